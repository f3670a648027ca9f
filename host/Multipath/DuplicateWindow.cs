namespace VirtualStack.Host.Multipath;

/// <summary>What <see cref="DuplicateWindow.Check"/> decided about one sequence number.</summary>
internal enum WindowVerdict
{
    /// <summary>Seen for the first time: deliver it.</summary>
    New,

    /// <summary>Seen before within the window: drop it.</summary>
    Duplicate,

    /// <summary>Older than the window reaches: drop it (it may or may not have been seen).</summary>
    TooOld,
}

/// <summary>
/// A sliding-window duplicate filter over 64-bit sequence numbers, the anti-replay window of IPsec (RFC 4303 §3.4.3)
/// and DTLS (RFC 6347 §4.1.2.6) as a ring bitmap (RFC 6479): the highest sequence seen and one bit for each of the
/// <see cref="Size"/> sequences up to it. A sequence above the highest is new and moves the window (the bits it
/// passes are cleared); one within the window is new once and a duplicate after; one below the window is too old.
/// Reordering within the window is accepted, so the window must cover what the paths reorder: the packet rate times
/// the difference of the paths' delays. No allocation after construction; not thread-safe (callers lock).
/// </summary>
internal sealed class DuplicateWindow
{
    public const int DefaultSize = 4096;

    private readonly ulong[] _bits;
    private readonly ulong _mask;
    private ulong _highest;
    private bool _started;

    /// <param name="size">Sequences the window remembers: a power of two from 64 to 2^24.</param>
    public DuplicateWindow(int size = DefaultSize)
    {
        if (size < 64 || size > 1 << 24 || (size & (size - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(size), size, "a power of two from 64 to 16777216");
        }

        Size = size;
        _mask = (ulong)size - 1;
        _bits = new ulong[size / 64];
    }

    public int Size { get; }

    /// <summary>The highest sequence seen (0 before the first).</summary>
    public ulong Highest => _highest;

    public long Accepted { get; private set; }

    public long Duplicates { get; private set; }

    public long TooOld { get; private set; }

    /// <summary>Decides about <paramref name="sequence"/> and remembers it when it is new.</summary>
    public WindowVerdict Check(ulong sequence)
    {
        if (!_started || sequence > _highest)
        {
            Advance(sequence);
            Set(sequence);
            Accepted++;
            return WindowVerdict.New;
        }

        if (_highest - sequence >= (ulong)Size)
        {
            TooOld++;
            return WindowVerdict.TooOld;
        }

        if (IsSet(sequence))
        {
            Duplicates++;
            return WindowVerdict.Duplicate;
        }

        Set(sequence);
        Accepted++;
        return WindowVerdict.New;
    }

    private void Advance(ulong to)
    {
        // The bits of the sequences passed over belong to sequences Size below them, which leave the window now.
        ulong gap = _started ? to - _highest : ulong.MaxValue;
        if (gap >= (ulong)Size)
        {
            Array.Clear(_bits);
        }
        else
        {
            for (ulong k = 1; k <= gap; k++)
            {
                ulong index = (_highest + k) & _mask;
                _bits[index >> 6] &= ~(1UL << (int)(index & 63));
            }
        }

        _highest = to;
        _started = true;
    }

    private bool IsSet(ulong sequence)
    {
        ulong index = sequence & _mask;
        return (_bits[index >> 6] & (1UL << (int)(index & 63))) != 0;
    }

    private void Set(ulong sequence)
    {
        ulong index = sequence & _mask;
        _bits[index >> 6] |= 1UL << (int)(index & 63);
    }
}
