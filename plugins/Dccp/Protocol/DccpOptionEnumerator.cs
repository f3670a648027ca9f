namespace VirtualStack.Plugins.Dccp.Protocol;

/// <summary>One option: its type and the bytes after the type and length bytes (empty for single-byte options).</summary>
public readonly ref struct DccpOption
{
    /// <summary>Creates an option view.</summary>
    public DccpOption(byte type, ReadOnlySpan<byte> data)
    {
        Type = type;
        Data = data;
    }

    /// <summary>Option type (§5.8).</summary>
    public byte Type { get; }

    /// <summary>Option data (without type and length).</summary>
    public ReadOnlySpan<byte> Data { get; }

    /// <summary>Total encoded length: 1 for types 0-31, else data + 2.</summary>
    public int EncodedLength => DccpOptionTypes.IsSingleByte(Type) ? 1 : Data.Length + 2;

    /// <summary>True when the length fits what RFC 4340 allows for this type.</summary>
    public bool HasValidLength => DccpOptionTypes.IsValidLength(Type, EncodedLength);
}

/// <summary>
/// Walks an option area (RFC 4340 §5.8) without allocating. Stops, with <see cref="IsMalformed"/> set, at an option
/// whose length byte is missing, below 2, or reaches past the area; it never reads outside the span.
/// </summary>
public ref struct DccpOptionEnumerator
{
    private readonly ReadOnlySpan<byte> _options;
    private int _position;
    private byte _type;
    private ReadOnlySpan<byte> _data;

    /// <summary>Starts before the first option of <paramref name="options"/>.</summary>
    public DccpOptionEnumerator(ReadOnlySpan<byte> options)
    {
        _options = options;
        _position = 0;
        _type = 0;
        _data = default;
        IsMalformed = false;
    }

    /// <summary>True once an option with a bad length was met; enumeration stopped there.</summary>
    public bool IsMalformed { get; private set; }

    /// <summary>Offset of the current option inside the option area (for Reset Data 1-3 on option errors).</summary>
    public int CurrentOffset { get; private set; }

    /// <summary>The current option.</summary>
    public readonly DccpOption Current => new(_type, _data);

    /// <summary>Enables <c>foreach</c>.</summary>
    public readonly DccpOptionEnumerator GetEnumerator() => this;

    /// <summary>Advances to the next option.</summary>
    public bool MoveNext()
    {
        if (_position >= _options.Length || IsMalformed)
        {
            return false;
        }

        CurrentOffset = _position;
        byte type = _options[_position];
        if (DccpOptionTypes.IsSingleByte(type))
        {
            _type = type;
            _data = default;
            _position++;
            return true;
        }

        if (_position + 1 >= _options.Length)
        {
            IsMalformed = true;
            return false;
        }

        int length = _options[_position + 1];
        if (length < 2 || _position + length > _options.Length)
        {
            IsMalformed = true;
            return false;
        }

        _type = type;
        _data = _options.Slice(_position + 2, length - 2);
        _position += length;
        return true;
    }

    /// <summary>True when every option's length is consistent with the area (the check <see cref="DccpPacket.TryParse"/> makes).</summary>
    public static bool IsWellFormed(ReadOnlySpan<byte> options)
    {
        var e = new DccpOptionEnumerator(options);
        while (e.MoveNext())
        {
        }

        return !e.IsMalformed;
    }
}
