using System.Runtime.InteropServices;
using VirtualStack.Contracts.Stacks;

namespace VirtualStack.Plugins.Shared.Native;

/// <summary>
/// Joins runs of queued datagrams of one flow into UDP GSO sends (UDP_SEGMENT, Linux 4.18+): one message whose
/// iovecs are the run's payloads and whose control message gives the segment size. The kernel then routes, filters
/// and hands to the device one super-datagram instead of up to <see cref="MaxSegments"/> datagrams, and cuts it into
/// ordinary datagrams as late as it can (in the device, or at the receiving socket on a veth). On the wire, and to
/// the receiving application, nothing changes: the same datagrams in the same order.
/// </summary>
/// <remarks>
/// Why this matters: the data path's cost is per packet, not per byte, and nearly all of it is the kernel's send
/// path (issue 2's profile: 81 % of the pipeline thread in sendmmsg). A run needs the same far end (same flow) and
/// equal payload sizes except the last, which may be shorter: that is how the kernel cuts a super-datagram.
/// The wire messages are built in their own vector over the queued messages' iovecs and addresses, so nothing is
/// copied. Used by one thread at a time, like <see cref="SendBatch"/>.
/// </remarks>
internal sealed unsafe class UdpSegmentation : IDisposable
{
    /// <summary>Segments of one send at most: UDP_MAX_SEGMENTS was 64 until Linux 6.9 raised it to 128.</summary>
    public const int MaxSegments = 64;

    /// <summary>Payload bytes of one super-datagram at most: an IPv4 datagram's limit (IPv6's is 20 bytes more).</summary>
    public const int MaxPayload = 65_507;

    // struct cmsghdr (16 bytes on LP64: size_t len, int level, int type) + a u16 aligned to 8: CMSG_SPACE(2).
    private const int ControlSpace = 24;
    private const int ControlLength = 18; // CMSG_LEN(2)

    private readonly MMsgHdr* _wire;
    private readonly byte* _controls;
    private readonly int[] _runLength;
    private readonly int _maxSegments;
    private bool _disposed;

    /// <param name="capacity">Messages of the batch this joins.</param>
    /// <param name="maxSegments">Datagrams per send at most, 2 to <see cref="MaxSegments"/>.</param>
    public UdpSegmentation(int capacity, int maxSegments)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxSegments, 2);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxSegments, MaxSegments);
        _maxSegments = maxSegments;
        _runLength = new int[capacity];
        _wire = (MMsgHdr*)NativeMemory.AllocZeroed((nuint)capacity, (nuint)sizeof(MMsgHdr));
        _controls = (byte*)NativeMemory.AllocZeroed((nuint)capacity, ControlSpace);
        for (int i = 0; i < capacity; i++)
        {
            byte* control = _controls + (i * ControlSpace);
            *(nuint*)control = ControlLength;
            *(int*)(control + 8) = Linux.SolUdp;
            *(int*)(control + 12) = Linux.UdpSegment;
        }
    }

    /// <summary>False once the kernel refused segmentation outright (a device without checksum offload, an old kernel).</summary>
    public bool Enabled { get; private set; } = true;

    /// <summary>Largest segment size still joined: one below the last size a path refused (above its MTU); larger payloads go alone.</summary>
    public int MaxSegmentSize { get; private set; } = ushort.MaxValue;

    /// <summary>The joined messages <see cref="Build"/> wrote.</summary>
    public MMsgHdr* Messages => _wire;

    /// <summary>How many queued messages wire message <paramref name="index"/> carries.</summary>
    public int RunLength(int index) => _runLength[index];

    /// <summary>
    /// Writes wire messages for queued messages <paramref name="first"/> to <paramref name="count"/> - 1 and returns
    /// how many it wrote. A wire message points at the queued ones' iovecs and address: it stays valid while they do.
    /// </summary>
    public int Build(MMsgHdr* queued, IoVec* iov, StackFlowStats?[] owners, int first, int count)
    {
        int wire = 0;
        int i = first;
        while (i < count)
        {
            int end = RunEnd(iov, owners, i, count);
            ref MsgHdr header = ref _wire[wire].Header;
            header.Name = queued[i].Header.Name;
            header.NameLength = queued[i].Header.NameLength;
            header.Iov = iov + i;
            header.IovLength = (nuint)(end - i);
            if (end - i > 1)
            {
                byte* control = _controls + (wire * ControlSpace);
                *(ushort*)(control + 16) = (ushort)iov[i].Length;
                header.Control = control;
                header.ControlLength = ControlSpace;
            }
            else
            {
                header.Control = null;
                header.ControlLength = 0;
            }

            _runLength[wire++] = end - i;
            i = end;
        }

        return wire;
    }

    /// <summary>
    /// The kernel refused joined message <paramref name="index"/> with <paramref name="errno"/>. Returns true when
    /// segmentation was the cause, after making sure it is not tried that way again: the caller then sends the run's
    /// datagrams one by one. False when the error would have refused the datagrams anyway (ENETUNREACH...).
    /// </summary>
    public bool Refused(int index, int errno)
    {
        if (_runLength[index] < 2)
        {
            return false;
        }

        switch (errno)
        {
            case Errno.EINVAL or Errno.EMSGSIZE:
                // A segment bigger than the route's MTU (the kernel does not fragment segments): remember the size.
                MaxSegmentSize = (int)_wire[index].Header.Iov[0].Length - 1;
                return true;
            case Errno.EIO or Errno.ENOPROTOOPT or Errno.EOPNOTSUPP:
                // No checksum offload on the device, or no UDP GSO in this kernel.
                Enabled = false;
                return true;
            default:
                return false;
        }
    }

    // One past the last message of the run that starts at i.
    private int RunEnd(IoVec* iov, StackFlowStats?[] owners, int i, int count)
    {
        int size = (int)iov[i].Length;
        int end = i + 1;
        if (size == 0 || size > MaxSegmentSize)
        {
            return end;
        }

        StackFlowStats? owner = owners[i];
        int total = size;
        while (end < count && end - i < _maxSegments && ReferenceEquals(owners[end], owner))
        {
            int next = (int)iov[end].Length;
            if (next > size || next == 0 || total + next > MaxPayload)
            {
                break;
            }

            total += next;
            end++;
            if (next < size)
            {
                // A shorter datagram can only be the last segment of a run.
                break;
            }
        }

        return end;
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        NativeMemory.Free(_wire);
        NativeMemory.Free(_controls);
    }
}
