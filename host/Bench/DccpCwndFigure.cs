using ScottPlot;

namespace VirtualStack.Host.Bench;

/// <summary>The DCCP connection's congestion window over time (<c>dccp-cwnd.png</c>): cwnd, ssthresh, pipe, back-offs.</summary>
internal static class DccpCwndFigure
{
    private const int Width = 1200;
    private const int Height = 500;

    public static void Save(string path, IReadOnlyList<DccpCwndSample> samples, string title)
    {
        using var plot = new Plot();
        double[] seconds = samples.Select(s => s.TimeMs / 1000.0).ToArray();
        var cwnd = plot.Add.ScatterLine(seconds, samples.Select(s => (double)s.Cwnd).ToArray(), Colors.Blue);
        cwnd.LegendText = "cwnd (packets)";
        cwnd.LineWidth = 1.5f;
        var pipe = plot.Add.ScatterLine(seconds, samples.Select(s => (double)s.Pipe).ToArray(), Colors.Gray);
        pipe.LegendText = "pipe (in flight)";
        pipe.LineWidth = 1f;

        // ssthresh only once a loss set it (it is "infinite" before).
        var withThreshold = samples.Where(s => s.Ssthresh is not null).ToArray();
        if (withThreshold.Length > 0)
        {
            var ssthresh = plot.Add.ScatterLine(withThreshold.Select(s => s.TimeMs / 1000.0).ToArray(), withThreshold.Select(s => (double)s.Ssthresh!.Value).ToArray(), Colors.Orange);
            ssthresh.LegendText = "ssthresh";
            ssthresh.LinePattern = LinePattern.Dashed;
        }

        // A red mark on every sample in which CCID 2 reduced the window (congestion events rose).
        var backoffs = new List<(double X, double Y)>();
        for (int i = 1; i < samples.Count; i++)
        {
            if (samples[i].CongestionEvents > samples[i - 1].CongestionEvents)
            {
                backoffs.Add((seconds[i], samples[i].Cwnd));
            }
        }

        if (backoffs.Count > 0)
        {
            var marks = plot.Add.ScatterPoints(backoffs.Select(b => b.X).ToArray(), backoffs.Select(b => b.Y).ToArray(), Colors.Red);
            marks.LegendText = "congestion event(s) in the sample";
            marks.MarkerSize = 6;
        }

        plot.Title(title);
        plot.XLabel("time (s) since the first datagram on the DCCP path");
        plot.YLabel("packets");
        plot.Axes.SetLimitsY(0, samples.Count > 0 ? samples.Max(s => s.Cwnd) * 1.3 + 1 : 1);
        plot.ShowLegend(Alignment.UpperRight);
        plot.SavePng(path, Width, Height);
    }
}
