using System.Runtime.InteropServices;

namespace VirtualStack.Host.Tools;

/// <summary>
/// <c>udp-count --arrivals FILE</c>: every datagram's generator sequence number, send time (written by the generator)
/// and arrival time (Unix ns), as three little-endian 64-bit integers, so that a switch's gap and losses can be
/// measured exactly across two servers (the demo merges both servers' files), and a gap the generator made (it was
/// descheduled) told apart from one the path made. Buffered: one write per 4096 datagrams, nothing allocated per
/// datagram.
/// </summary>
internal sealed class ArrivalLog : IDisposable
{
    private const int Records = 4096;
    private const int Fields = 3;

    private readonly FileStream _file;
    private readonly long[] _buffer = new long[Records * Fields];
    private int _used;

    public ArrivalLog(string path)
    {
        _file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, bufferSize: 1);
    }

    public void Record(long sequence, long sentUnixNs, long unixNs)
    {
        _buffer[_used++] = sequence;
        _buffer[_used++] = sentUnixNs;
        _buffer[_used++] = unixNs;
        if (_used == _buffer.Length)
        {
            Flush();
        }
    }

    public void Flush()
    {
        if (_used == 0)
        {
            return;
        }

        _file.Write(MemoryMarshal.AsBytes(_buffer.AsSpan(0, _used)));
        _used = 0;
    }

    public void Dispose()
    {
        Flush();
        _file.Dispose();
    }

    /// <summary>Reads a file <see cref="ArrivalLog"/> wrote: sequence numbers, send and arrival times, in arrival order.</summary>
    public static (long[] Sequence, long[] SentUnixNs, long[] UnixNs) Read(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        const int RecordBytes = Fields * sizeof(long);
        ReadOnlySpan<long> values = MemoryMarshal.Cast<byte, long>(bytes.AsSpan(0, bytes.Length / RecordBytes * RecordBytes));
        int n = values.Length / Fields;
        var sequence = new long[n];
        var sent = new long[n];
        var unixNs = new long[n];
        for (int i = 0; i < n; i++)
        {
            sequence[i] = values[Fields * i];
            sent[i] = values[(Fields * i) + 1];
            unixNs[i] = values[(Fields * i) + 2];
        }

        return (sequence, sent, unixNs);
    }
}
