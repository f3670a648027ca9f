using VirtualStack.Plugins.Dccp.Protocol;

namespace VirtualStack.Dccp.Tests.Wire;

public class SequenceNumberTests
{
    [Fact]
    public void Arithmetic_wraps_at_2_pow_48()
    {
        Assert.Equal(0UL, SequenceNumber.Add(SequenceNumber.Mask, 1));
        Assert.Equal(SequenceNumber.Mask, SequenceNumber.Add(0, -1));
        Assert.Equal(1, SequenceNumber.Delta(0, SequenceNumber.Mask));
        Assert.Equal(-1, SequenceNumber.Delta(SequenceNumber.Mask, 0));
        Assert.True(SequenceNumber.After(2, SequenceNumber.Mask));
        Assert.Equal(2UL, SequenceNumber.Max(2, SequenceNumber.Mask));
        Assert.True(SequenceNumber.InRange(1, SequenceNumber.Mask - 5, 3));
        Assert.False(SequenceNumber.InRange(4, SequenceNumber.Mask - 5, 3));
        Assert.True(SequenceNumber.InRange(7, 7, 7));
    }

    [Theory]
    [InlineData(0x1234_56FF_FFF0UL, 0x000005u, 0x1234_5700_0005UL)] // just past a 2^24 boundary
    [InlineData(0x1234_5700_0005UL, 0xFFFFF0u, 0x1234_56FF_FFF0UL)] // just before it
    [InlineData(0x0000_0000_0002UL, 0xFFFFFEu, 0xFFFF_FFFF_FFFEUL)] // across the 2^48 wrap
    [InlineData(0x1234_5680_0000UL, 0x800000u, 0x1234_5680_0000UL)]
    public void Short_sequence_numbers_extend_to_the_closest_value(ulong reference, uint shortValue, ulong expected)
    {
        Assert.Equal(expected, SequenceNumber.ExtendShort(shortValue, reference));
    }
}
