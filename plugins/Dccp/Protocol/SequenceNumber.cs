namespace VirtualStack.Plugins.Dccp.Protocol;

/// <summary>
/// Circular arithmetic on 48-bit sequence numbers (RFC 4340 §7: "modulo 2^48", comparisons are circular) and the
/// extension of 24-bit short sequence numbers (§7.6). Values are held in the low 48 bits of a <see cref="ulong"/>.
/// </summary>
public static class SequenceNumber
{
    /// <summary>2^48 - 1: the mask of a sequence number.</summary>
    public const ulong Mask = (1UL << 48) - 1;

    /// <summary>a + n modulo 2^48 (n may be negative).</summary>
    public static ulong Add(ulong a, long n) => (a + (ulong)n) & Mask;

    /// <summary>The circular distance a - b, as a signed number in [-2^47, 2^47).</summary>
    public static long Delta(ulong a, ulong b)
    {
        // Shift the 48-bit difference into the top of a 64-bit word and back: an arithmetic shift sign-extends it.
        long d = (long)((a - b) << 16);
        return d >> 16;
    }

    /// <summary>True when a comes after b in circular order.</summary>
    public static bool After(ulong a, ulong b) => Delta(a, b) > 0;

    /// <summary>True when a is before b in circular order.</summary>
    public static bool Before(ulong a, ulong b) => Delta(a, b) < 0;

    /// <summary>The later of two sequence numbers (circular max, as GSR = max(GSR, seqno) in §7.5.1 uses it).</summary>
    public static ulong Max(ulong a, ulong b) => Delta(a, b) >= 0 ? a : b;

    /// <summary>The earlier of two sequence numbers.</summary>
    public static ulong Min(ulong a, ulong b) => Delta(a, b) <= 0 ? a : b;

    /// <summary>True when low &lt;= x &lt;= high in circular order (the window tests of §7.5.3).</summary>
    public static bool InRange(ulong x, ulong low, ulong high)
    {
        // Measure both from low: x is inside when its offset does not exceed the window's width.
        ulong width = (high - low) & Mask;
        ulong offset = (x - low) & Mask;
        return offset <= width;
    }

    /// <summary>
    /// Extends a 24-bit sequence number to 48 bits using a reference (GSR for sequence numbers, GSS for acknowledgement
    /// numbers): the 48-bit value whose low 24 bits equal <paramref name="shortValue"/> and which is closest to the
    /// reference (RFC 4340 §7.6).
    /// </summary>
    public static ulong ExtendShort(uint shortValue, ulong reference)
    {
        const ulong Low24 = 0xFF_FFFF;
        ulong candidate = (reference & ~Low24 & Mask) | (shortValue & Low24);
        long delta = Delta(candidate, reference);
        if (delta > (1L << 23))
        {
            candidate = Add(candidate, -(1L << 24));
        }
        else if (delta < -(1L << 23))
        {
            candidate = Add(candidate, 1L << 24);
        }

        return candidate;
    }
}
