using VirtualStack.Plugins.Dccp.Protocol;

namespace VirtualStack.Plugins.Dccp.Core;

/// <summary>
/// The HC-Receiver's record of which of the peer's packets arrived, reported as Ack Vectors (RFC 4340 §11.4,
/// RFC 4341 §6). A ring of per-sequence-number flags from <see cref="Low"/> to <see cref="High"/>; state below
/// Low is forgotten once the sender has seen an Ack Vector covering it (acknowledgement of acknowledgements,
/// §11.4.2), or when the ring is full.
/// </summary>
internal sealed class AckVectorRecorder
{
    private readonly bool[] _received;
    private readonly int _mask;
    private bool _any;

    // Ack Vectors we sent: our sequence number -> the Acknowledgement Number it carried (ring keyed by our seqno).
    private readonly ulong[] _sentSeq;
    private readonly ulong[] _sentAck;

    public AckVectorRecorder(int capacityPowerOfTwo = 4096)
    {
        _received = new bool[capacityPowerOfTwo];
        _mask = capacityPowerOfTwo - 1;
        _sentSeq = new ulong[256];
        _sentAck = new ulong[256];
        Array.Fill(_sentSeq, ulong.MaxValue);
    }

    /// <summary>Oldest sequence number still described.</summary>
    public ulong Low { get; private set; }

    /// <summary>Greatest sequence number received (the Acknowledgement Number of the next Ack Vector).</summary>
    public ulong High { get; private set; }

    /// <summary>True once any packet was recorded.</summary>
    public bool HasData => _any;

    /// <summary>
    /// Records that <paramref name="seq"/> arrived. Returns false for a duplicate (already recorded) or for one older
    /// than anything still described.
    /// </summary>
    public bool Record(ulong seq)
    {
        if (!_any)
        {
            _any = true;
            Low = High = seq;
            _received[(int)(seq & (ulong)_mask)] = true;
            return true;
        }

        long ahead = SequenceNumber.Delta(seq, High);
        if (ahead > 0)
        {
            if (ahead > _mask)
            {
                // A jump past the whole ring: everything described so far is stale.
                Array.Clear(_received);
                Low = seq;
            }
            else
            {
                for (long i = 1; i < ahead; i++)
                {
                    _received[(int)(SequenceNumber.Add(High, i) & (ulong)_mask)] = false;
                }

                if (SequenceNumber.Delta(seq, Low) > _mask)
                {
                    Low = SequenceNumber.Add(seq, -_mask);
                }
            }

            _received[(int)(seq & (ulong)_mask)] = true;
            High = seq;
            return true;
        }

        if (SequenceNumber.Before(seq, Low))
        {
            return false;
        }

        ref bool slot = ref _received[(int)(seq & (ulong)_mask)];
        if (slot)
        {
            return false;
        }

        slot = true;
        return true;
    }

    /// <summary>True when <paramref name="seq"/> is described and was received.</summary>
    public bool WasReceived(ulong seq) =>
        _any && SequenceNumber.InRange(seq, Low, High) && _received[(int)(seq & (ulong)_mask)];

    /// <summary>
    /// Encodes the Ack Vector for Acknowledgement Number <see cref="High"/> into <paramref name="destination"/>
    /// (at most 253 bytes, one option): runs from High down to Low. Returns the bytes written.
    /// </summary>
    public int Encode(Span<byte> destination)
    {
        if (!_any)
        {
            return 0;
        }

        int written = 0;
        ulong seq = High;
        long remaining = SequenceNumber.Delta(High, Low) + 1;
        while (remaining > 0 && written < destination.Length)
        {
            bool state = _received[(int)(seq & (ulong)_mask)];
            int run = 1;
            while (run < AckVector.MaxRunPerByte && run < remaining
                   && _received[(int)(SequenceNumber.Add(seq, -run) & (ulong)_mask)] == state)
            {
                run++;
            }

            destination[written++] = (byte)(((int)(state ? AckVectorState.Received : AckVectorState.NotReceived) << 6) | (run - 1));
            seq = SequenceNumber.Add(seq, -run);
            remaining -= run;
        }

        return written;
    }

    /// <summary>Remembers that our packet <paramref name="ourSeq"/> carried an Ack Vector for <paramref name="ackNumber"/>.</summary>
    public void OnVectorSent(ulong ourSeq, ulong ackNumber)
    {
        int i = (int)(ourSeq & 0xFF);
        _sentSeq[i] = ourSeq;
        _sentAck[i] = ackNumber;
    }

    /// <summary>
    /// The peer acknowledged our packet <paramref name="ourSeq"/>. If it carried an Ack Vector, the peer has seen the
    /// state up to that vector's Acknowledgement Number, which need not be described again (§11.4.2).
    /// </summary>
    public void OnAckOfAck(ulong ourSeq)
    {
        int i = (int)(ourSeq & 0xFF);
        if (_sentSeq[i] != ourSeq || !_any)
        {
            return;
        }

        ulong seen = _sentAck[i];
        _sentSeq[i] = ulong.MaxValue;
        // Keep the newest entry so the next vector is never empty: Low moves at most to High.
        ulong newLow = SequenceNumber.Min(SequenceNumber.Add(seen, 1), High);
        if (SequenceNumber.After(newLow, Low))
        {
            Low = newLow;
        }
    }
}
