namespace VirtualStack.Host.Multipath;

/// <summary>The per-packet choices of the schedulers, as pure functions over spans (no allocation).</summary>
internal static class PathScheduling
{
    /// <summary>
    /// Smooth weighted round robin (the nginx upstream algorithm): every up path's credit grows by its weight, the
    /// path with the most credit is chosen and pays the total weight of the up paths. Over any window of
    /// sum(weights) packets each path carries exactly its weight, and the choices are interleaved (weights 3:1 give
    /// A A B A, not A A A B), so no path sees bursts. Returns -1 when no path is up.
    /// </summary>
    public static int PickWeighted(Span<int> credit, ReadOnlySpan<int> weights, ReadOnlySpan<bool> up)
    {
        int best = -1;
        int total = 0;
        for (int i = 0; i < weights.Length; i++)
        {
            if (!up[i])
            {
                continue;
            }

            credit[i] += weights[i];
            total += weights[i];
            if (best < 0 || credit[i] > credit[best])
            {
                best = i;
            }
        }

        if (best >= 0)
        {
            credit[best] -= total;
        }

        return best;
    }

    /// <summary>
    /// The up path with the lowest round-trip time; a path with no measurement yet (0) comes first, so that every
    /// path gets measured. Ties go to the first path. Returns -1 when no path is up.
    /// </summary>
    public static int PickLowestRtt(ReadOnlySpan<double> rttUs, ReadOnlySpan<bool> up)
    {
        int best = -1;
        for (int i = 0; i < rttUs.Length; i++)
        {
            if (up[i] && (best < 0 || rttUs[i] < rttUs[best]))
            {
                best = i;
            }
        }

        return best;
    }
}
