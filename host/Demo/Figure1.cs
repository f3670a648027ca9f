using System.Globalization;
using System.Text;
using ScottPlot;

namespace VirtualStack.Host.Demo;

/// <summary>
/// The demo's picture, after the paper's Figure 1: packets per bucket (10 ms) at each server over time, one line per
/// server, switches as dashed vertical lines, axis labels and a legend. The series share one time line that
/// starts at the first bucket any server counted; a bucket a server did not count is a zero on its line (the
/// counters only report buckets that saw packets), so a gap shows as a drop to the axis, as it should.
/// </summary>
internal static class Figure1
{
    public const int Width = 1200;
    public const int Height = 500;

    private static readonly Color[] Palette =
    [
        Color.FromHex("#1f77b4"), // blue
        Color.FromHex("#d62728"), // red
        Color.FromHex("#2ca02c"), // green
        Color.FromHex("#9467bd"), // purple
    ];

    /// <summary>The common time line: bucket starts (Unix ms) from the first to the last bucket of any series.</summary>
    public static long[] Timeline(IReadOnlyList<FigureSeries> series, int bucketMs)
    {
        long first = long.MaxValue;
        long last = long.MinValue;
        foreach (FigureSeries s in series)
        {
            foreach (long key in s.Buckets.Keys)
            {
                first = Math.Min(first, key);
                last = Math.Max(last, key);
            }
        }

        if (first > last)
        {
            return [];
        }

        var timeline = new long[((last - first) / bucketMs) + 1];
        for (int i = 0; i < timeline.Length; i++)
        {
            timeline[i] = first + ((long)i * bucketMs);
        }

        return timeline;
    }

    /// <summary>The per-bucket counts as CSV: <c>time_ms</c> from the start, then <c>NAME_packets</c> per series.</summary>
    public static string Csv(IReadOnlyList<FigureSeries> series, long[] timeline)
    {
        var csv = new StringBuilder("time_ms");
        foreach (FigureSeries s in series)
        {
            csv.Append(CultureInfo.InvariantCulture, $",{s.Name}_packets");
        }

        csv.Append('\n');
        foreach (long bucket in timeline)
        {
            csv.Append(bucket - timeline[0]);
            foreach (FigureSeries s in series)
            {
                csv.Append(',').Append(s.Buckets.GetValueOrDefault(bucket));
            }

            csv.Append('\n');
        }

        return csv.ToString();
    }

    /// <summary>Renders the figure into <paramref name="path"/> (PNG, <see cref="Width"/> x <see cref="Height"/>).</summary>
    public static void Save(string path, IReadOnlyList<FigureSeries> series, IReadOnlyList<FigureMarker> markers, int bucketMs, string title)
    {
        long[] timeline = Timeline(series, bucketMs);
        using var plot = new Plot();
        double[] seconds = timeline.Select(t => (t - timeline[0]) / 1000.0).ToArray();
        double peak = 0;
        for (int i = 0; i < series.Count; i++)
        {
            double[] counts = timeline.Select(t => (double)series[i].Buckets.GetValueOrDefault(t)).ToArray();
            peak = counts.Length > 0 ? Math.Max(peak, counts.Max()) : peak;
            var line = plot.Add.ScatterLine(seconds, counts, Palette[i % Palette.Length]);
            line.LegendText = $"{series[i].Name} server";
            line.LineWidth = 1.2f;
        }

        // Headroom above the highest bucket for the switch labels and the legend, which would hide data otherwise.
        double top = peak > 0 ? peak * 1.35 : 1;
        foreach (FigureMarker marker in markers)
        {
            plot.Add.VerticalLine(marker.Seconds, 1.5f, Colors.Black, LinePattern.Dashed);
            var label = plot.Add.Text(" " + marker.Label, marker.Seconds, top * 0.97);
            label.LabelFontSize = 12;
            label.LabelAlignment = Alignment.UpperLeft;
        }

        if (markers.Count > 0)
        {
            // One legend entry for all switch markers rather than one per line.
            var legend = plot.Add.ScatterLine(Array.Empty<double>(), Array.Empty<double>(), Colors.Black);
            legend.LinePattern = LinePattern.Dashed;
            legend.LegendText = "stack switch";
        }

        plot.Title(title);
        plot.XLabel("time (s)");
        plot.YLabel(string.Create(CultureInfo.InvariantCulture, $"packets per {bucketMs} ms"));
        plot.Axes.SetLimitsY(0, top);
        if (seconds.Length > 1)
        {
            plot.Axes.SetLimitsX(0, seconds[^1]);
        }

        plot.ShowLegend(Alignment.UpperRight);
        plot.SavePng(path, Width, Height);
    }
}
