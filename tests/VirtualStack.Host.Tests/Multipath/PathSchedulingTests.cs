using VirtualStack.Host.Multipath;

namespace VirtualStack.Host.Tests.Multipath;

public sealed class PathSchedulingTests
{
    [Fact]
    public void Weighted_round_robin_interleaves_three_to_one()
    {
        int[] credit = new int[2];
        string order = string.Concat(Enumerable.Range(0, 8).Select(_ => PathScheduling.PickWeighted(credit, [3, 1], [true, true]) == 0 ? "a" : "b"));

        Assert.Equal("aabaaaba", order);
    }

    [Theory]
    [InlineData(new[] { 3, 1 })]
    [InlineData(new[] { 5, 3, 2 })]
    [InlineData(new[] { 1, 1, 1, 7 })]
    [InlineData(new[] { 1000, 1 })]
    public void Over_any_whole_cycle_each_path_carries_exactly_its_weight(int[] weights)
    {
        int total = weights.Sum();
        int[] credit = new int[weights.Length];
        bool[] up = [.. weights.Select(_ => true)];
        int[] counts = new int[weights.Length];
        for (int cycle = 0; cycle < 5; cycle++)
        {
            Array.Clear(counts);
            for (int i = 0; i < total; i++)
            {
                counts[PathScheduling.PickWeighted(credit, weights, up)]++;
            }

            Assert.Equal(weights, counts);
        }
    }

    [Fact]
    public void A_path_that_is_down_gets_nothing_and_none_up_is_minus_one()
    {
        int[] credit = new int[3];
        for (int i = 0; i < 100; i++)
        {
            Assert.NotEqual(1, PathScheduling.PickWeighted(credit, [1, 5, 1], [true, false, true]));
        }

        Assert.Equal(-1, PathScheduling.PickWeighted(credit, [1, 5, 1], [false, false, false]));
    }

    [Fact]
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)] // no OSR compile inside the measured loop
    public void Weighted_round_robin_allocates_nothing()
    {
        int[] credit = new int[2];
        int[] weights = [3, 1];
        bool[] up = [true, true];
        PathScheduling.PickWeighted(credit, weights, up);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
        {
            PathScheduling.PickWeighted(credit, weights, up);
        }

        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
    }

    [Fact]
    public void Lowest_rtt_takes_the_fastest_up_path_and_measures_unknown_ones_first()
    {
        Assert.Equal(1, PathScheduling.PickLowestRtt([900, 150, 400], [true, true, true]));
        Assert.Equal(2, PathScheduling.PickLowestRtt([900, 150, 400], [true, false, true]));
        Assert.Equal(0, PathScheduling.PickLowestRtt([0, 150, 400], [true, true, true]));
        Assert.Equal(0, PathScheduling.PickLowestRtt([100, 100], [true, true]));
        Assert.Equal(-1, PathScheduling.PickLowestRtt([100, 100], [false, false]));
    }
}
