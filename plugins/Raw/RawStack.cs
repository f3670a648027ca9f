using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using VirtualStack.Contracts.Flows;
using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Packets;
using VirtualStack.Contracts.Stacks;
using VirtualStack.Plugins.Shared.Diagnostics;
using VirtualStack.Plugins.Shared.Native;

namespace VirtualStack.Plugins.Raw;

/// <summary>
/// Sends whole IP packets unchanged through raw sockets: IPv4 through socket(AF_INET, SOCK_RAW, IPPROTO_RAW),
/// which implies IP_HDRINCL, IPv6 through socket(AF_INET6, SOCK_RAW, IPPROTO_RAW), which implies IPV6_HDRINCL.
/// Packets go in batches, one sendmmsg per family and flush, each addressed to its own destination.
/// </summary>
/// <remarks>
/// With a header included the kernel still fills in the IPv4 total length and header checksum (and a zero source
/// address or identification); everything else leaves as the application wrote it. Raw sockets of protocol
/// IPPROTO_RAW receive nothing, so the stack has no receive thread.
/// </remarks>
internal sealed unsafe class RawStack : ITransportStack
{
    private const int MinV4Header = 20;
    private const int V6Header = 40;

    private readonly int _fd4;
    private readonly int _fd6 = -1;
    private readonly SendBatch _v4;
    private readonly SendBatch? _v6;
    private readonly ErrorReport _sendErrors;
    private bool _disposed;

    public RawStack(string name, int bufferBytes, int sendBatch, IStackHost host)
    {
        Name = name;
        _sendErrors = new ErrorReport(host, "packets refused by the kernel");
        _fd4 = NativeSocket.Open(Linux.AfInet, Linux.SockRaw, Linux.IpProtoRaw, host.SocketMark, bufferBytes, $"AF_INET, SOCK_RAW, IPPROTO_RAW for stack '{name}'");
        try
        {
            _fd6 = NativeSocket.Open(Linux.AfInet6, Linux.SockRaw, Linux.IpProtoRaw, host.SocketMark, bufferBytes, $"AF_INET6, SOCK_RAW, IPPROTO_RAW for stack '{name}'");
        }
        catch (NativeCallException e) when (e.ErrorNumber == Errno.EAFNOSUPPORT)
        {
            // A host without IPv6 still carries IPv4; its IPv6 packets are refused, counted, and said so once here.
            host.Log(StackLogLevel.Warning, $"IPv6 is not available ({e.Message}); IPv6 packets on this stack are dropped as unsupported.");
        }
        catch
        {
            LibC.Close(_fd4);
            throw;
        }

        _v4 = new SendBatch(sendBatch);
        _v6 = _fd6 >= 0 ? new SendBatch(sendBatch) : null;
    }

    public string Name { get; }

    public StackCarries Carries => StackCarries.Packet;

    /// <summary>Packets the kernel accepted. Pipeline thread.</summary>
    public long PacketsSent { get; private set; }

    /// <summary>Packets the kernel refused. Pipeline thread.</summary>
    public long SendErrors { get; private set; }

    /// <summary>True when IPv6 packets can be sent.</summary>
    public bool HasIpv6 => _v6 is not null;

    /// <summary>The IPv4 raw socket (for checks of its options).</summary>
    public int Ipv4Fd => _fd4;

    /// <summary>The IPv6 raw socket, -1 without IPv6.</summary>
    public int Ipv6Fd => _fd6;

    /// <inheritdoc />
    public ValueTask<IStackFlow> Open(FlowKey flow, NetEndpoint remote, IReplySink replies, CancellationToken cancellationToken) =>
        _disposed
            ? ValueTask.FromException<IStackFlow>(new ObjectDisposedException(nameof(RawStack)))
            : ValueTask.FromResult<IStackFlow>(new RawFlow(this));

    /// <summary>Queues the whole packet for its destination. Pipeline thread; allocation-free.</summary>
    public DropReason Enqueue(ReadOnlySpan<byte> packet, StackFlowStats stats)
    {
        if (_disposed)
        {
            return DropReason.ShuttingDown;
        }

        if (packet.IsEmpty)
        {
            return DropReason.Truncated;
        }

        SendBatch batch;
        int fd;
        NetAddress destination;
        switch (packet[0] >> 4)
        {
            case 4:
                if (packet.Length < MinV4Header)
                {
                    return DropReason.Truncated;
                }

                destination = NetAddress.Read(packet.Slice(16, 4));
                (batch, fd) = (_v4, _fd4);
                break;
            case 6:
                if (packet.Length < V6Header)
                {
                    return DropReason.Truncated;
                }

                if (_v6 is null)
                {
                    return DropReason.Unsupported;
                }

                destination = NetAddress.Read(packet.Slice(24, 16));
                (batch, fd) = (_v6, _fd6);
                break;
            default:
                return DropReason.BadVersion;
        }

        if (batch.IsFull)
        {
            SendPending(batch, fd);
        }

        // The host's packet memory is pinned and valid until Flush returns (IStackFlow.Send): keep its address.
        byte* data = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(packet));
        batch.Add(data, packet.Length, destination, 0, stats);
        return DropReason.None;
    }

    /// <inheritdoc />
    public void Flush()
    {
        if (_disposed)
        {
            return;
        }

        SendPending(_v4, _fd4);
        if (_v6 is not null)
        {
            SendPending(_v6, _fd6);
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        if (!_disposed)
        {
            _disposed = true;
            LibC.Close(_fd4);
            _v4.Dispose();
            if (_v6 is not null)
            {
                LibC.Close(_fd6);
                _v6.Dispose();
            }
        }

        return ValueTask.CompletedTask;
    }

    private void SendPending(SendBatch batch, int fd)
    {
        if (batch.Count == 0)
        {
            return;
        }

        SendOutcome outcome = batch.Send(fd);
        PacketsSent += outcome.Sent;
        if (outcome.Failed > 0)
        {
            SendErrors += outcome.Failed;
            _sendErrors.Note(outcome.Failed, outcome.LastErrno);
        }
    }
}
