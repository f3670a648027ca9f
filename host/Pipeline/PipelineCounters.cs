using VirtualStack.Contracts.Packets;

namespace VirtualStack.Host.Pipeline;

/// <summary>
/// Counters of one shard. Written only by the shard thread (plain increments, no interlocked cost on the hot path),
/// read by the management interface from other threads: a read may be a moment old, never torn on x64.
/// </summary>
internal sealed class PipelineCounters
{
    private readonly long[] _drops = new long[Enum.GetValues<DropReason>().Length];

    public long PacketsIn;
    public long BytesIn;
    public long Batches;
    public long PacketsSent;
    public long BytesSent;
    public long ReadErrors;
    public long RepliesWritten;
    public long ReplyErrors;

    /// <summary>Packets the classifier flagged with a bad IPv4 header checksum (still carried by the raw stack).</summary>
    public long BadIpChecksums;

    /// <summary>Packets sent to the default stack because they could not be parsed beyond the IP header.</summary>
    public long Unparsed;

    /// <summary>
    /// Packets a flow held while no stack of it was ready (a first DCCP handshake), to send once one was; those it
    /// could not send then are counted as drops too.
    /// </summary>
    public long Held;

    /// <summary>Batches abandoned because a stage threw (a bug: logged with the exception, at most once per 10 s).</summary>
    public long StageErrors;

    /// <summary>Packets in those batches.</summary>
    public long StageErrorPackets;

    public void Drop(DropReason reason) => _drops[(int)reason]++;

    public long Drops(DropReason reason) => Volatile.Read(ref _drops[(int)reason]);

    public long TotalDrops
    {
        get
        {
            long total = 0;
            for (int i = 1; i < _drops.Length; i++)
            {
                total += Volatile.Read(ref _drops[i]);
            }

            return total;
        }
    }
}
