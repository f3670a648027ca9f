using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace VirtualStack.Contracts.Net;

/// <summary>
/// An IPv4 or IPv6 address as a 16-byte value: no allocation, cheap to copy, hash and compare on the data path.
/// </summary>
/// <remarks>
/// IPv4 addresses are held in their IPv4-mapped IPv6 form (<c>::ffff:a.b.c.d</c>, RFC 4291 §2.5.5.2), the same
/// convention as <see cref="IPAddress.MapToIPv6"/>; <see cref="IsV4"/> tells them apart. Both halves hold the
/// address bytes in network order read as big-endian numbers, so comparisons follow address order.
/// </remarks>
public readonly struct NetAddress : IEquatable<NetAddress>
{
    private const ulong V4MappedPrefix = 0x0000_ffff_0000_0000UL;

    private readonly ulong _high;
    private readonly ulong _low;

    private NetAddress(ulong high, ulong low)
    {
        _high = high;
        _low = low;
    }

    /// <summary>The unspecified IPv4 address 0.0.0.0.</summary>
    public static NetAddress AnyV4 => FromV4(0);

    /// <summary>True when this is an IPv4 address.</summary>
    public bool IsV4 => _high == 0 && (_low & 0xffff_ffff_0000_0000UL) == V4MappedPrefix;

    /// <summary>The IPv4 address as a big-endian number (only meaningful when <see cref="IsV4"/>).</summary>
    public uint V4 => (uint)_low;

    /// <summary>Number of address bytes on the wire: 4 or 16.</summary>
    public int Length => IsV4 ? 4 : 16;

    /// <summary>Makes an IPv4 address from its big-endian numeric value (10.0.0.1 = 0x0a000001).</summary>
    public static NetAddress FromV4(uint address) => new(0, V4MappedPrefix | address);

    /// <summary>Reads a 4-byte (IPv4) or 16-byte (IPv6) address in network order.</summary>
    public static NetAddress Read(ReadOnlySpan<byte> bytes) => bytes.Length switch
    {
        4 => FromV4(BinaryPrimitives.ReadUInt32BigEndian(bytes)),
        16 => new NetAddress(BinaryPrimitives.ReadUInt64BigEndian(bytes), BinaryPrimitives.ReadUInt64BigEndian(bytes[8..])),
        _ => throw new ArgumentException("An address is 4 or 16 bytes long.", nameof(bytes)),
    };

    /// <summary>Writes the address in network order (4 or 16 bytes) and returns the number of bytes written.</summary>
    public int Write(Span<byte> destination)
    {
        if (IsV4)
        {
            BinaryPrimitives.WriteUInt32BigEndian(destination, V4);
            return 4;
        }

        BinaryPrimitives.WriteUInt64BigEndian(destination, _high);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], _low);
        return 16;
    }

    /// <summary>Converts from <see cref="IPAddress"/> (IPv4-mapped IPv6 addresses become IPv4).</summary>
    public static NetAddress FromIPAddress(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        Span<byte> bytes = stackalloc byte[16];
        if (!address.TryWriteBytes(bytes, out int written))
        {
            throw new ArgumentException("Unsupported address.", nameof(address));
        }

        return Read(bytes[..written]);
    }

    /// <summary>Converts to <see cref="IPAddress"/> (allocates: not for the data path).</summary>
    public IPAddress ToIPAddress()
    {
        Span<byte> bytes = stackalloc byte[16];
        int length = Write(bytes);
        return new IPAddress(bytes[..length]);
    }

    /// <summary>The socket address family of this address.</summary>
    public AddressFamily Family => IsV4 ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;

    /// <summary>Parses a textual IPv4 or IPv6 address.</summary>
    public static bool TryParse(string? text, out NetAddress address)
    {
        if (text is not null && IPAddress.TryParse(text, out IPAddress? ip))
        {
            address = FromIPAddress(ip);
            return true;
        }

        address = default;
        return false;
    }

    /// <summary>Parses a textual IPv4 or IPv6 address or throws <see cref="FormatException"/>.</summary>
    public static NetAddress Parse(string text) =>
        TryParse(text, out NetAddress address) ? address : throw new FormatException($"'{text}' is not an IP address.");

    /// <inheritdoc />
    public bool Equals(NetAddress other) => _high == other._high && _low == other._low;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is NetAddress other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(_high, _low);

    /// <summary>Equality.</summary>
    public static bool operator ==(NetAddress left, NetAddress right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(NetAddress left, NetAddress right) => !left.Equals(right);

    /// <inheritdoc />
    public override string ToString() => ToIPAddress().ToString();
}
