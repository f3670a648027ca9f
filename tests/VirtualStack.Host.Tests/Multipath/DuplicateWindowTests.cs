using VirtualStack.Host.Multipath;

namespace VirtualStack.Host.Tests.Multipath;

/// <summary>The far side's duplicate filter: examples, edges, and random interleavings of copies and reordering.</summary>
public sealed class DuplicateWindowTests
{
    [Fact]
    public void A_sequence_is_new_once_then_a_duplicate()
    {
        var window = new DuplicateWindow(64);
        Assert.Equal(WindowVerdict.New, window.Check(1));
        Assert.Equal(WindowVerdict.Duplicate, window.Check(1));
        Assert.Equal(WindowVerdict.New, window.Check(2));
        Assert.Equal(WindowVerdict.Duplicate, window.Check(1));
        Assert.Equal((2L, 2L, 0L), (window.Accepted, window.Duplicates, window.TooOld));
    }

    [Fact]
    public void Reordering_within_the_window_is_accepted_and_older_is_too_old()
    {
        var window = new DuplicateWindow(64);
        Assert.Equal(WindowVerdict.New, window.Check(100));
        Assert.Equal(WindowVerdict.New, window.Check(37)); // 100 - 63: the oldest the window still holds
        Assert.Equal(WindowVerdict.TooOld, window.Check(36));
        Assert.Equal(WindowVerdict.New, window.Check(99));
        Assert.Equal(WindowVerdict.Duplicate, window.Check(37));
        Assert.Equal(100UL, window.Highest);
    }

    [Fact]
    public void Moving_the_window_forgets_the_bits_it_passes()
    {
        var window = new DuplicateWindow(64);
        for (ulong s = 1; s <= 64; s++)
        {
            Assert.Equal(WindowVerdict.New, window.Check(s));
        }

        // 65..127 reuse the ring slots of 1..63: they must read as unseen, and 64 (still inside) as seen.
        Assert.Equal(WindowVerdict.New, window.Check(127));
        for (ulong s = 65; s < 127; s++)
        {
            Assert.Equal(WindowVerdict.New, window.Check(s));
        }

        Assert.Equal(WindowVerdict.Duplicate, window.Check(64));
        Assert.Equal(WindowVerdict.TooOld, window.Check(63));

        // A jump of more than the window clears everything.
        Assert.Equal(WindowVerdict.New, window.Check(10_000));
        Assert.Equal(WindowVerdict.New, window.Check(9_990));
        Assert.Equal(WindowVerdict.TooOld, window.Check(127));
    }

    [Fact]
    public void The_first_sequence_may_be_anything_even_the_largest()
    {
        var window = new DuplicateWindow(64);
        Assert.Equal(WindowVerdict.New, window.Check(ulong.MaxValue - 1));
        Assert.Equal(WindowVerdict.New, window.Check(ulong.MaxValue));
        Assert.Equal(WindowVerdict.Duplicate, window.Check(ulong.MaxValue - 1));
        Assert.Equal(WindowVerdict.New, window.Check(ulong.MaxValue - 63));
        Assert.Equal(WindowVerdict.TooOld, window.Check(0));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(63)]
    [InlineData(100)]
    [InlineData(1 << 25)]
    public void Sizes_other_than_powers_of_two_from_64_are_refused(int size) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new DuplicateWindow(size));

    /// <summary>
    /// Property: the copies of N sequences (1 to 4 of each, as from up to four paths with probes) arrive shuffled so
    /// that no arrival is more than the window behind the highest sequence seen before it: every sequence is
    /// delivered exactly once, every other copy is counted as a duplicate, nothing is too old. Checked against a set.
    /// </summary>
    [Theory]
    [InlineData(64, 1)]
    [InlineData(64, 2)]
    [InlineData(1024, 3)]
    [InlineData(4096, 4)]
    public void Random_interleavings_deliver_every_sequence_exactly_once(int size, int seed)
    {
        var random = new Random(seed);
        for (int round = 0; round < 50; round++)
        {
            int count = random.Next(1, 5000);
            ulong first = round % 2 == 0 ? 1UL : (ulong)random.NextInt64(0, long.MaxValue);
            var arrivals = new List<(ulong Sequence, double At)>();
            double maxDelay = size * random.NextDouble() * 0.9; // how far a copy may lag its original, in sequences
            for (int i = 0; i < count; i++)
            {
                int copies = random.Next(1, 5);
                for (int c = 0; c < copies; c++)
                {
                    arrivals.Add((first + (ulong)i, i + (random.NextDouble() * maxDelay)));
                }
            }

            arrivals.Sort((x, y) => x.At.CompareTo(y.At));
            var window = new DuplicateWindow(size);
            var delivered = new HashSet<ulong>();
            ulong highest = 0;
            foreach ((ulong sequence, _) in arrivals)
            {
                Assert.True(delivered.Count == 0 || highest - Math.Min(highest, sequence) < (ulong)size, "the generator lagged by more than the window");
                WindowVerdict verdict = window.Check(sequence);
                Assert.Equal(delivered.Add(sequence) ? WindowVerdict.New : WindowVerdict.Duplicate, verdict);
                highest = Math.Max(highest, sequence);
            }

            Assert.Equal(count, delivered.Count);
            Assert.Equal(count, window.Accepted);
            Assert.Equal(arrivals.Count - count, window.Duplicates);
            Assert.Equal(0, window.TooOld);
        }
    }

    /// <summary>
    /// Property without the lag bound, against an exact oracle (a set of everything delivered and the highest sequence):
    /// arbitrary arrivals (duplicates, reordering, jumps, sequences far behind) are new exactly when never delivered and
    /// within the window, duplicates when delivered and within it, too old when a whole window below the highest.
    /// </summary>
    [Fact]
    public void Arbitrary_arrivals_never_deliver_a_sequence_twice()
    {
        var random = new Random(7);
        var window = new DuplicateWindow(128);
        var delivered = new HashSet<ulong>();
        ulong highest = 0;
        bool any = false;
        for (int i = 0; i < 200_000; i++)
        {
            ulong sequence = random.Next(10) switch
            {
                0 => highest + (ulong)random.Next(1, 1000), // a jump
                < 5 => highest + 1,
                _ => highest - Math.Min(highest, (ulong)random.Next(0, 200)), // behind, maybe beyond the window
            };
            bool inside = !any || sequence > highest || highest - sequence < 128;
            WindowVerdict expected = !inside ? WindowVerdict.TooOld : delivered.Contains(sequence) ? WindowVerdict.Duplicate : WindowVerdict.New;
            Assert.Equal(expected, window.Check(sequence));
            if (expected == WindowVerdict.New)
            {
                delivered.Add(sequence);
            }
            highest = any ? Math.Max(highest, sequence) : sequence;
            any = true;
        }
    }
}
