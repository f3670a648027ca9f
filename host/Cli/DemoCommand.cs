using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using VirtualStack.Host.Demo;

namespace VirtualStack.Host.Cli;

/// <summary><c>vs demo</c>: the main job, on an embedded default.</summary>
internal static class DemoCommand
{
    public const string Help = """
        Usage: vs demo [--seconds S] [--size BYTES] [--out DIR]

        The reference experiment on an embedded default: builds a private topology in network namespaces, starts
        VS, a UDP generator (1500-byte packets) and a counting server (packets per 10 ms), shows a live progress
        line, prints a summary and writes figure1.png (packets per 10 ms at each server over time, like the paper's
        Figure 1), results.json, counts.csv and the configuration used into --out (default results/<timestamp>/). Removes everything it created, also when interrupted. Needs root.
          --seconds  length of the run (default 20)
          --size     IP packet size (default 1500)
        """;

    public static async Task<int> RunAsync(ParsedArguments args)
    {
        int seconds = args.Int("seconds", 20, 1, 3600);
        int size = args.Int("size", 1500, 64, 9000);
        string output = args.Option("out") ?? Path.Combine("results", DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
        args.RejectUnknown();
        if (Tmds.Linux.LibC.geteuid() != 0)
        {
            ConsoleLog.Write("vs demo needs root (it builds network namespaces and runs vs run)");
            return 1;
        }

        string vs = Environment.ProcessPath ?? throw new InvalidOperationException("cannot find the vs executable");
        using var cancel = new CancellationTokenSource();
        using PosixSignalRegistration sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; cancel.Cancel(); });
        using PosixSignalRegistration sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; cancel.Cancel(); });
        JsonObject result = await new DemoRun(vs, seconds, size, Path.GetFullPath(output), ConsoleLog.Write).RunAsync(cancel.Token);

        var table = new TableWriter("STACK", "MEAN GBIT/S", "PEAK GBIT/S", "SENT", "RECEIVED", "LOST", "REORDERED");
        table.Add("udp", result["mean_gbps"], result["peak_gbps"], result["sent"], result["received"], result["lost"], result["reordered"]);
        table.WriteTo(Console.Out);
        Console.Out.WriteLine("switches: none yet (the DCCP stack and run-time switching arrive with issues 3 and 4)");
        Console.Out.WriteLine($"results: {Path.GetFullPath(output)} (figure1.png, results.json, counts.csv)");
        return result["vs_exit"]!.GetValue<int>() == 0 ? 0 : 1;
    }
}
