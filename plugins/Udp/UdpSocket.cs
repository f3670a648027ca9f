using System.Collections.Concurrent;
using VirtualStack.Contracts.Net;
using VirtualStack.Plugins.Shared.Native;

namespace VirtualStack.Plugins.Udp;

/// <summary>
/// One unconnected kernel UDP socket shared by many flows, at most one flow per far end: a reply's source address
/// and port then name its flow (design.md §3).
/// </summary>
internal sealed class UdpSocket
{
    // Written under the stack's lock (open, close), read lock-free by the receive thread for every datagram.
    private readonly ConcurrentDictionary<NetEndpoint, UdpFlow> _farEnds = new();

    public UdpSocket(int fd, bool isV6, ushort localPort, int sendBatch, int sendSegments)
    {
        Fd = fd;
        IsV6 = isV6;
        LocalPort = localPort;
        Pending = new SendBatch(sendBatch, sendSegments);
    }

    public int Fd { get; }

    public bool IsV6 { get; }

    public ushort LocalPort { get; }

    /// <summary>Index in the receiver's socket table, the epoll tag.</summary>
    public int Id { get; set; } = -1;

    /// <summary>Messages queued since the last flush. Pipeline thread only.</summary>
    public SendBatch Pending { get; }

    /// <summary>True while the socket is on the stack's list of sockets to flush. Pipeline thread only.</summary>
    public bool Dirty { get; set; }

    /// <summary>Flows on this socket. Changed under the stack's lock.</summary>
    public int FlowCount { get; private set; }

    public bool Carries(in NetEndpoint farEnd) => _farEnds.ContainsKey(farEnd);

    public void Attach(UdpFlow flow)
    {
        if (!_farEnds.TryAdd(flow.Remote, flow))
        {
            throw new InvalidOperationException($"far end {flow.Remote} is already on this socket");
        }

        FlowCount++;
    }

    public void Detach(UdpFlow flow)
    {
        if (_farEnds.TryRemove(new KeyValuePair<NetEndpoint, UdpFlow>(flow.Remote, flow)))
        {
            FlowCount--;
        }
    }

    /// <summary>The flow a datagram from <paramref name="source"/> belongs to. Receive thread; allocation-free.</summary>
    public bool TryFind(in NetEndpoint source, out UdpFlow? flow) => _farEnds.TryGetValue(source, out flow);
}
