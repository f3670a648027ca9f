using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using VirtualStack.Contracts.Flows;
using VirtualStack.Host.Flows;
using VirtualStack.Host.Packets;
using VirtualStack.Host.Tun;

namespace VirtualStack.Host.Pipeline;

/// <summary>
/// The reply path's end: builds the IP packet the application expects (from the address it sent to, valid
/// checksums) in a per-thread buffer and writes it into the TUN. Called on the stacks' receive threads; a TUN write
/// is one whole packet, so threads need no lock.
/// </summary>
internal sealed unsafe class TunReplyWriter(TunDevice tun, PipelineCounters counters) : IReplyWriter
{
    private const int BufferSize = 65_536;

    [ThreadStatic]
    private static byte[]? t_buffer;

    public void Write(in FlowKey flow, ReadOnlySpan<byte> payload)
    {
        byte[] buffer = t_buffer ??= GC.AllocateUninitializedArray<byte>(BufferSize, pinned: true);
        int length = ReplyPacketBuilder.BuildUdp(flow, payload, buffer);
        if (length == 0)
        {
            Interlocked.Increment(ref counters.ReplyErrors);
            return;
        }

        byte* packet = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buffer));
        if (tun.Write(packet, length) == 0)
        {
            Interlocked.Increment(ref counters.RepliesWritten);
        }
        else
        {
            Interlocked.Increment(ref counters.ReplyErrors);
        }
    }
}
