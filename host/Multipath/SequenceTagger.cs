using System.Runtime.InteropServices;
using VirtualStack.Contracts.Packets;

namespace VirtualStack.Host.Multipath;

/// <summary>
/// The <see cref="SequenceTag"/> of one multipath flow: numbers the packets VS sends (every copy of a packet, on every
/// path and as a probe, carries the same number) and strips and de-duplicates the tagged replies the far side sends
/// back over every path, so the application hears each reply once.
/// </summary>
/// <remarks>
/// The tag is written in place, in the 16 bytes before the UDP payload: the UDP header and the end of the IP header
/// (the destination address). Those bytes were parsed into <see cref="PacketInfo"/> by the classifier already and
/// nothing reads them after the stack sink hands the packet to the flow (it flushes the stacks and returns the batch),
/// so the payload stack sends header-free tag + payload straight out of the pinned batch slot: no copy, no buffer of
/// the flow's own that would have to live until the stack's flush. Send runs on the pipeline thread; replies come on
/// the paths' receive threads, so the reply window is locked (uncontended but for two paths answering at once).
/// </remarks>
internal sealed class SequenceTagger(uint flowId, int replyWindow = DuplicateWindow.DefaultSize)
{
    private const PacketFlags NotTaggable = PacketFlags.Fragment | PacketFlags.TransportMalformed;

    private readonly DuplicateWindow _replies = new(replyWindow);
    private readonly Lock _repliesGate = new();
    private ulong _sequence;

    public uint FlowId { get; } = flowId;

    /// <summary>The sequence of the last packet tagged (pipeline thread).</summary>
    public ulong Sequence => _sequence;

    /// <summary>Replies without this flow's tag, delivered unchanged.</summary>
    public long RepliesUntagged;

    public long ReplyDuplicates
    {
        get
        {
            lock (_repliesGate)
            {
                return _replies.Duplicates + _replies.TooOld;
            }
        }
    }

    /// <summary>
    /// Writes the next tag in front of the UDP payload of <paramref name="packet"/> and widens <paramref name="info"/>'s
    /// payload over it. False (nothing written) when the packet has no whole UDP payload to tag.
    /// </summary>
    public bool TryTag(ReadOnlySpan<byte> packet, ref PacketInfo info)
    {
        int offset = info.PayloadOffset - SequenceTag.Size;
        if (!info.HasTransport || (info.Flags & NotTaggable) != 0 || info.Protocol != IpProtocols.Udp
            || offset < 0 || info.PayloadOffset + info.PayloadLength > packet.Length)
        {
            return false;
        }

        // The span is read-only in the stack contract only: it is the batch's own writable slot (see remarks).
        Span<byte> writable = MemoryMarshal.CreateSpan(ref MemoryMarshal.GetReference(packet), packet.Length);
        SequenceTag.Write(writable[offset..], FlowId, ++_sequence);
        info.PayloadOffset = (ushort)offset;
        info.PayloadLength = (ushort)(info.PayloadLength + SequenceTag.Size);
        return true;
    }

    /// <summary>
    /// A reply on one of the paths: false when it is a copy already delivered (or older than the window), else true with
    /// <paramref name="payload"/> the reply without its tag. A reply that does not carry this flow's tag (a far side
    /// that answers untagged) is delivered as it came.
    /// </summary>
    public bool TryAccept(ReadOnlySpan<byte> reply, out ReadOnlySpan<byte> payload)
    {
        if (!SequenceTag.TryRead(reply, out uint flowId, out ulong sequence) || flowId != FlowId)
        {
            Interlocked.Increment(ref RepliesUntagged);
            payload = reply;
            return true;
        }

        WindowVerdict verdict;
        lock (_repliesGate)
        {
            verdict = _replies.Check(sequence);
        }

        payload = reply[SequenceTag.Size..];
        return verdict == WindowVerdict.New;
    }
}
