namespace VirtualStack.Host.Demo;

/// <summary>One server's packet counts per bucket: bucket start in Unix milliseconds -> packets.</summary>
internal sealed record FigureSeries(string Name, IReadOnlyDictionary<long, long> Buckets);

/// <summary>A vertical marker on the figure, e.g. a stack switch at <paramref name="Seconds"/> from the start.</summary>
internal sealed record FigureMarker(double Seconds, string Label);
