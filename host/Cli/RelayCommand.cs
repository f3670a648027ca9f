using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using VirtualStack.Contracts.Net;
using VirtualStack.Host.Multipath;
using VirtualStack.Host.Tools;

namespace VirtualStack.Host.Cli;

/// <summary><c>vs relay</c>: the far side of a multipath rule's Udp paths in front of an unchanged UDP server (<see cref="TagRelay"/>).</summary>
internal static class RelayCommand
{
    public const string Help = """
        Usage: vs relay --listen ADDR:PORT[,ADDR:PORT...] --deliver HOST:PORT [--dedup [--window N]] [--idle-s S]
                        [--reply-path-ms MS] [--json]

        The far side of a multipath rule's Udp paths, in front of an unchanged UDP server: receives on every --listen
        address (one per path; port 0: the kernel picks one, the "listening" line says which), hands each datagram to the server at --deliver from a UDP socket of the flow's own, and
        sends the server's replies back.
          --dedup          the datagrams carry VS's sequence tag (rule option SequenceTag, docs/redundant-tag.md): the
                           tag is stripped, and a datagram whose flow id and sequence number were delivered already
                           (a copy from another path, a probe) or that is older than the window is dropped and counted.
                           Replies go back tagged on every path the flow was heard on within --reply-path-ms of its
                           newest datagram (default 1000), so every VS path keeps hearing answers; VS hands the
                           application the first copy of each. Untagged datagrams are dropped and counted.
          --window N       sequences the duplicate window remembers per flow: a power of two from 64 to 16777216
                           (default 4096); it must cover the packet rate times the paths' delay difference
          --idle-s S       a flow that sends nothing for S seconds is forgotten (default 60)
          --json           the totals as one JSON object at the end
        Without --dedup each source address is a flow and nothing is changed (a plain relay).
        Prints "listening" once bound, a line per new flow and path, and the totals on SIGINT/SIGTERM.
        """;

    public static int Run(ParsedArguments args)
    {
        string listen = args.Option("listen") ?? throw new UsageException("--listen ADDR:PORT[,ADDR:PORT...] is required (one address per path)");
        var endpoints = new List<NetEndpoint>();
        foreach (string part in listen.Split(',', StringSplitOptions.TrimEntries))
        {
            // NetEndpoint refuses port 0, which here asks the kernel for a port: parse it as port 1, then set 0.
            bool any = part.EndsWith(":0", StringComparison.Ordinal);
            if (!NetEndpoint.TryParse(any ? part[..^1] + "1" : part, out NetEndpoint endpoint))
            {
                throw new UsageException($"--listen: '{part}' is not ADDR:PORT (an IP address and a port)");
            }

            endpoint = any ? endpoint with { Port = 0 } : endpoint;
            if (!any && endpoints.Contains(endpoint))
            {
                throw new UsageException($"--listen: {part} is given twice");
            }

            endpoints.Add(endpoint);
        }

        string deliverText = args.Option("deliver") ?? throw new UsageException("--deliver HOST:PORT is required (the unchanged UDP server)");
        if (!NetEndpoint.TryParse(deliverText, out NetEndpoint deliver) || deliver.Port == 0)
        {
            throw new UsageException($"--deliver: '{deliverText}' is not HOST:PORT (an IP address and a port)");
        }

        bool dedup = args.Flag("dedup");
        int window = args.Int("window", DuplicateWindow.DefaultSize, 64, 1 << 24);
        if ((window & (window - 1)) != 0)
        {
            throw new UsageException($"--window: {window} is not a power of two");
        }

        if (!dedup && args.Option("window") is not null)
        {
            throw new UsageException("--window: applies with --dedup only");
        }

        int idle = args.Int("idle-s", 60, 1, 86400);
        int replyPathMs = args.Int("reply-path-ms", 1000, 1, 3_600_000);
        bool json = args.Flag("json");
        args.RejectUnknown();

        var relay = new TagRelay
        {
            Listen = endpoints,
            Deliver = deliver,
            Dedup = dedup,
            Window = window,
            Idle = TimeSpan.FromSeconds(idle),
            ReplyPathAge = TimeSpan.FromMilliseconds(replyPathMs),
            Log = Line,
        };

        using var stop = new CancellationTokenSource();
        using PosixSignalRegistration sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
        using PosixSignalRegistration sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
        relay.Run(stop.Token, () => Line(string.Create(CultureInfo.InvariantCulture,
            $"listening on {string.Join(", ", relay.Bound)}, delivering to udp {deliver}{(dedup ? $", dropping duplicates (window {window})" : ", unchanged")}")));

        RelayTotals t = relay.Totals;
        Line(t.ToString());
        if (json)
        {
            Line(new JsonObject
            {
                ["flows"] = t.Flows,
                ["in"] = t.In,
                ["delivered"] = t.Delivered,
                ["duplicates"] = t.Duplicates,
                ["too_old"] = t.TooOld,
                ["untagged"] = t.Untagged,
                ["deliver_errors"] = t.DeliverErrors,
                ["replies"] = t.Replies,
                ["reply_copies"] = t.ReplyCopies,
                ["reply_errors"] = t.ReplyErrors,
            }.ToJsonString());
        }

        return 0;
    }

    private static void Line(string text)
    {
        lock (Console.Out)
        {
            Console.Out.WriteLine(text);
            Console.Out.Flush();
        }
    }
}
