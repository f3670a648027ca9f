using System.Numerics;
using System.Runtime.InteropServices;

namespace VirtualStack.Plugins.Dccp.Protocol;

/// <summary>
/// CRC-32c (Castagnoli), as the Data Checksum option uses it (RFC 4340 §9.3, the SCTP CRC of RFC 3309): initial
/// value all ones, final complement. Uses the CPU's CRC32 instruction through <see cref="BitOperations.Crc32C(uint, ulong)"/>.
/// </summary>
public static class Crc32C
{
    /// <summary>The CRC-32c of <paramref name="data"/>.</summary>
    public static uint Compute(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFF_FFFF;
        ReadOnlySpan<ulong> words = MemoryMarshal.Cast<byte, ulong>(data);
        foreach (ulong word in words)
        {
            crc = BitOperations.Crc32C(crc, word);
        }

        foreach (byte b in data[(words.Length * 8)..])
        {
            crc = BitOperations.Crc32C(crc, b);
        }

        return ~crc;
    }
}
