using System.Globalization;

namespace VirtualStack.Contracts.Net;

/// <summary>An address prefix such as <c>10.201.0.0/24</c> or <c>fd00:201::/64</c>.</summary>
/// <param name="Address">The address as written (host bits may be set, e.g. an interface address 10.200.0.1/24).</param>
/// <param name="Length">Prefix length in bits.</param>
public readonly record struct NetPrefix(NetAddress Address, int Length)
{
    /// <summary>True when <paramref name="address"/> is of the same family and shares the first <see cref="Length"/> bits.</summary>
    public bool Contains(NetAddress address)
    {
        if (address.IsV4 != Address.IsV4)
        {
            return false;
        }

        Span<byte> a = stackalloc byte[16];
        Span<byte> b = stackalloc byte[16];
        int n = Address.Write(a);
        address.Write(b);
        int bits = Length;
        for (int i = 0; i < n && bits > 0; i++, bits -= 8)
        {
            int mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
            if ((a[i] & mask) != (b[i] & mask))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Parses <c>address/length</c>; a bare address is a host prefix (/32 or /128).</summary>
    public static bool TryParse(string? text, out NetPrefix prefix)
    {
        prefix = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        int slash = text.IndexOf('/', StringComparison.Ordinal);
        string addressText = slash < 0 ? text : text[..slash];
        if (!NetAddress.TryParse(addressText.Trim(), out NetAddress address))
        {
            return false;
        }

        int max = address.IsV4 ? 32 : 128;
        int length = max;
        if (slash >= 0 && (!int.TryParse(text.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out length) || length > max))
        {
            return false;
        }

        prefix = new NetPrefix(address, length);
        return true;
    }

    /// <summary>Parses <c>address/length</c> or throws <see cref="FormatException"/>.</summary>
    public static NetPrefix Parse(string text) =>
        TryParse(text, out NetPrefix prefix) ? prefix : throw new FormatException($"'{text}' is not an address prefix.");

    /// <summary>The prefix with host bits cleared (<c>10.200.0.1/24</c> gives <c>10.200.0.0/24</c>).</summary>
    public NetPrefix Network()
    {
        Span<byte> bytes = stackalloc byte[16];
        int n = Address.Write(bytes);
        for (int i = 0; i < n; i++)
        {
            int bitsHere = Math.Clamp(Length - (i * 8), 0, 8);
            bytes[i] &= (byte)(0xff << (8 - bitsHere));
        }

        return new NetPrefix(NetAddress.Read(bytes[..n]), Length);
    }

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Address}/{Length}");
}
