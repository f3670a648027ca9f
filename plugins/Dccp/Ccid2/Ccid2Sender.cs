using VirtualStack.Plugins.Dccp.Protocol;

namespace VirtualStack.Plugins.Dccp.Ccid2;

/// <summary>
/// CCID 2, TCP-like congestion control, sender half (RFC 4341 §5): a congestion window in packets, slow start and
/// congestion avoidance, loss detection from Ack Vectors (a data packet is lost once NUMDUPACK = 3 packets sent
/// after it are acknowledged), one window halving per window of data, an RTT estimate (RFC 6298) and a
/// retransmission timeout that collapses the window to one packet. The sender keeps per-packet history for the
/// packets in flight; it allocates only at construction.
/// </summary>
internal sealed class Ccid2Sender
{
    /// <summary>Packets acknowledged after a lost one before it counts as lost (RFC 4341 §5, as TCP's dupack threshold).</summary>
    public const int NumDupAck = 3;

    private const byte FlagData = 1;
    private const byte FlagAcked = 2;
    private const byte FlagLost = 4;

    private readonly ulong[] _seq;
    private readonly long[] _sentAt;
    private readonly byte[] _flags;
    private readonly int _mask;
    private readonly int _maxCwnd;
    private readonly long _minRtoUs;

    private ulong _oldestOutstanding;
    private bool _haveOutstanding;
    private ulong _recoveryPoint;
    private bool _haveRecoveryPoint;
    private int _caCounter;
    private long _slowReceiverUntil;
    private bool _cwndLimited;

    public Ccid2Sender(int mss, int maxCwnd, TimeSpan initialRto, TimeSpan minRto)
    {
        int capacity = 1;
        while (capacity < maxCwnd * 4)
        {
            capacity <<= 1;
        }

        _seq = new ulong[capacity];
        _sentAt = new long[capacity];
        _flags = new byte[capacity];
        Array.Fill(_seq, ulong.MaxValue);
        _mask = capacity - 1;
        _maxCwnd = maxCwnd;
        _minRtoUs = (long)minRto.TotalMicroseconds;
        RtoUs = (long)initialRto.TotalMicroseconds;
        // RFC 4341 §5 takes the initial window of RFC 3390: min(4 MSS, max(2 MSS, 4380 bytes)), in packets.
        Cwnd = mss > 2190 ? 2 : mss > 1095 ? 3 : 4;
        Ssthresh = int.MaxValue;
    }

    /// <summary>Congestion window, packets.</summary>
    public int Cwnd { get; private set; }

    /// <summary>Slow-start threshold, packets.</summary>
    public int Ssthresh { get; private set; }

    /// <summary>Data packets sent and neither acknowledged nor lost.</summary>
    public int Pipe { get; private set; }

    /// <summary>Smoothed RTT in microseconds (0 before the first sample).</summary>
    public long SrttUs { get; private set; }

    /// <summary>RTT variation in microseconds.</summary>
    public long RttVarUs { get; private set; }

    /// <summary>Retransmission timeout in microseconds.</summary>
    public long RtoUs { get; private set; }

    /// <summary>When the RTO fires, or <see cref="long.MaxValue"/>.</summary>
    public long RtoDeadline { get; private set; } = long.MaxValue;

    /// <summary>Data packets detected lost (from Ack Vectors or by timeout).</summary>
    public long Lost { get; private set; }

    /// <summary>Window reductions caused by loss or ECN marks.</summary>
    public long CongestionEvents { get; private set; }

    /// <summary>Retransmission timeouts.</summary>
    public long Timeouts { get; private set; }

    /// <summary>True when the window allows another data packet (RFC 4341 §5: pipe &lt; cwnd).</summary>
    public bool CanSend => Pipe < Cwnd;

    /// <summary>Notes that the application had data but the window was full (cwnd validation, RFC 2861).</summary>
    public void NoteWindowLimited() => _cwndLimited = true;

    /// <summary>Records a sent packet; only data packets are congestion controlled and counted in the pipe.</summary>
    public void OnPacketSent(ulong seq, bool isData, long now)
    {
        int i = (int)(seq & (ulong)_mask);
        if (_seq[i] != ulong.MaxValue && (_flags[i] & (FlagData | FlagAcked | FlagLost)) == FlagData)
        {
            // The ring wrapped over a packet still in flight: treat it as lost rather than leak pipe.
            MarkLost(i, now);
        }

        _seq[i] = seq;
        _sentAt[i] = now;
        _flags[i] = isData ? FlagData : (byte)0;
        if (!isData)
        {
            return;
        }

        if (!_haveOutstanding || Pipe == 0)
        {
            _oldestOutstanding = seq;
            _haveOutstanding = true;
        }

        Pipe++;
        if (Pipe >= Cwnd)
        {
            _cwndLimited = true;
        }

        if (RtoDeadline == long.MaxValue)
        {
            RtoDeadline = now + RtoUs;
        }
    }

    /// <summary>
    /// Processes the acknowledgement information of one received packet: its Acknowledgement Number and, when it
    /// has one, its Ack Vector (RFC 4340 §11.4). Without a vector only the acknowledged packet itself is known.
    /// </summary>
    public void OnAck(ulong ackNumber, ReadOnlySpan<byte> ackVector, bool ecnMarked, long now)
    {
        if (!_haveOutstanding)
        {
            return;
        }

        int newlyAcked = 0;
        ulong highestAcked = 0;
        bool haveHighest = false;
        bool congestion = ecnMarked;
        ulong seq = ackNumber;
        if (ackVector.IsEmpty)
        {
            if (TryAck(seq, now, ref newlyAcked, ref congestion, ecn: false))
            {
                highestAcked = seq;
                haveHighest = true;
            }
        }
        else
        {
            foreach (byte b in ackVector)
            {
                AckVectorRun run = AckVector.Decode(b);
                for (int k = 0; k < run.Length; k++)
                {
                    if (SequenceNumber.Before(seq, _oldestOutstanding))
                    {
                        goto done; // older than anything in flight: the rest of the vector is history
                    }

                    if (run.State is AckVectorState.Received or AckVectorState.ReceivedEcnMarked
                        && TryAck(seq, now, ref newlyAcked, ref congestion, run.State == AckVectorState.ReceivedEcnMarked) && !haveHighest)
                    {
                        highestAcked = seq;
                        haveHighest = true;
                    }

                    seq = SequenceNumber.Add(seq, -1);
                }
            }
        }

    done:
        if (haveHighest)
        {
            DetectLosses(highestAcked, now, ref congestion);
        }

        if (congestion)
        {
            Reduce(now);
        }
        else if (newlyAcked > 0)
        {
            Grow(newlyAcked, now);
        }

        AdvanceOldest();
        if (newlyAcked > 0)
        {
            // New data acknowledged: restart the timer, or stop it when nothing is in flight (RFC 6298 5.2, 5.3).
            RtoDeadline = Pipe > 0 ? now + RtoUs : long.MaxValue;
        }
    }

    /// <summary>The receiver said it is slow (RFC 4340 §11.6): do not grow the window for one RTT.</summary>
    public void OnSlowReceiver(long now) => _slowReceiverUntil = now + Math.Max(SrttUs, _minRtoUs);

    /// <summary>RTO expiry (RFC 4341 §5): every packet in flight is lost, the window collapses to one, the timer backs off.</summary>
    public void OnTimer(long now)
    {
        if (now < RtoDeadline)
        {
            return;
        }

        Timeouts++;
        for (int i = 0; i <= _mask; i++)
        {
            if (_seq[i] != ulong.MaxValue && (_flags[i] & (FlagData | FlagAcked | FlagLost)) == FlagData)
            {
                MarkLost(i, now);
            }
        }

        Ssthresh = Math.Max(Cwnd / 2, 2);
        Cwnd = 1;
        _caCounter = 0;
        CongestionEvents++;
        _haveRecoveryPoint = false;
        _haveOutstanding = false;
        RtoUs = Math.Min(RtoUs * 2, 64_000_000);
        RtoDeadline = long.MaxValue;
    }

    private bool TryAck(ulong seq, long now, ref int newlyAcked, ref bool congestion, bool ecn)
    {
        int i = (int)(seq & (ulong)_mask);
        if (_seq[i] != seq || (_flags[i] & FlagAcked) != 0)
        {
            return false;
        }

        bool wasLost = (_flags[i] & FlagLost) != 0;
        _flags[i] |= FlagAcked;
        if ((_flags[i] & FlagData) == 0)
        {
            return false;
        }

        if (!wasLost)
        {
            Pipe--;
            newlyAcked++;
        }
        else
        {
            // Declared lost (a timeout, or a gap in an Ack Vector that was reordering) but the peer did get it:
            // Lost counts what never arrived. The window reduction it caused stands, as in TCP without undo.
            Lost--;
        }

        if (ecn)
        {
            congestion = true;
        }

        if (newlyAcked == 1 && !wasLost)
        {
            SampleRtt(now - _sentAt[i]);
        }

        return true;
    }

    private void DetectLosses(ulong highestAcked, long now, ref bool congestion)
    {
        // Walk down from the highest acknowledged packet counting acknowledged data packets; an outstanding data
        // packet below at least NumDupAck of them is lost (RFC 4341 §5).
        int ackedAbove = 0;
        ulong seq = highestAcked;
        long span = SequenceNumber.Delta(highestAcked, _oldestOutstanding);
        for (long k = 0; k <= span && k <= _mask; k++)
        {
            int i = (int)(seq & (ulong)_mask);
            if (_seq[i] == seq && (_flags[i] & FlagData) != 0)
            {
                if ((_flags[i] & FlagAcked) != 0)
                {
                    ackedAbove++;
                }
                else if ((_flags[i] & FlagLost) == 0 && ackedAbove >= NumDupAck)
                {
                    MarkLost(i, now);
                    if (!_haveRecoveryPoint || SequenceNumber.After(seq, _recoveryPoint))
                    {
                        congestion = true;
                    }
                }
            }

            seq = SequenceNumber.Add(seq, -1);
        }
    }

    private void MarkLost(int i, long now)
    {
        _ = now;
        _flags[i] |= FlagLost;
        Pipe = Math.Max(0, Pipe - 1);
        Lost++;
    }

    private void Reduce(long now)
    {
        _ = now;
        // One reduction per window of data: losses of packets sent before this point do not halve again.
        ulong newest = NewestSent();
        if (_haveRecoveryPoint && !SequenceNumber.After(newest, _recoveryPoint))
        {
            return;
        }

        Ssthresh = Math.Max(Cwnd / 2, 2);
        Cwnd = Ssthresh;
        _caCounter = 0;
        CongestionEvents++;
        _recoveryPoint = newest;
        _haveRecoveryPoint = true;
    }

    private void Grow(int newlyAcked, long now)
    {
        if (now < _slowReceiverUntil || !_cwndLimited)
        {
            return; // application-limited or slow receiver: do not inflate an unused window
        }

        for (int n = 0; n < newlyAcked && Cwnd < _maxCwnd; n++)
        {
            if (Cwnd < Ssthresh)
            {
                Cwnd++; // slow start: one packet per acknowledged packet
            }
            else if (++_caCounter >= Cwnd)
            {
                Cwnd++; // congestion avoidance: one packet per window
                _caCounter = 0;
            }
        }

        _cwndLimited = Pipe >= Cwnd - 1;
    }

    private void SampleRtt(long sampleUs)
    {
        if (sampleUs <= 0)
        {
            sampleUs = 1;
        }

        // RFC 6298 §2.
        if (SrttUs == 0)
        {
            SrttUs = sampleUs;
            RttVarUs = sampleUs / 2;
        }
        else
        {
            RttVarUs = ((3 * RttVarUs) + Math.Abs(SrttUs - sampleUs)) / 4;
            SrttUs = ((7 * SrttUs) + sampleUs) / 8;
        }

        RtoUs = Math.Clamp(SrttUs + Math.Max(1000, 4 * RttVarUs), _minRtoUs, 64_000_000);
    }

    private ulong _newestSent;

    private ulong NewestSent() => _newestSent;

    /// <summary>Tells the sender the greatest sequence number sent so far (GSS), for the recovery point.</summary>
    public void NoteGss(ulong gss) => _newestSent = gss;

    private void AdvanceOldest()
    {
        if (Pipe == 0)
        {
            _haveOutstanding = false;
            return;
        }

        // Move past packets that are acknowledged, lost or not data.
        for (int k = 0; k <= _mask; k++)
        {
            int i = (int)(_oldestOutstanding & (ulong)_mask);
            if (_seq[i] == _oldestOutstanding && (_flags[i] & (FlagData | FlagAcked | FlagLost)) == FlagData)
            {
                return;
            }

            if (_oldestOutstanding == _newestSent)
            {
                return;
            }

            _oldestOutstanding = SequenceNumber.Add(_oldestOutstanding, 1);
        }
    }
}
