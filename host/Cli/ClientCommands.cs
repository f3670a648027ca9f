using System.Globalization;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Configuration;
using VirtualStack.Host.Configuration;
using VirtualStack.Host.Management;

namespace VirtualStack.Host.Cli;

/// <summary><c>vs status | flows | stacks</c>: ask a running daemon through its management socket.</summary>
internal static class ClientCommands
{
    public const string Help = """
        Usage: vs status|flows|stacks [--socket PATH | --config FILE] [--json]

        Asks a running daemon. The socket is --socket PATH, else the Management:Socket of --config FILE,
        else /run/virtualstack/vs.sock.
          status   counters: packets, drops by reason, flows, replies
          flows    the flow table: rule, active stack, packets, each cached stack
          stacks   per-stack counters
        --json prints the daemon's answer as JSON (stable keys, for scripts).
        """;

    public static async Task<int> RunAsync(string command, ParsedArguments args)
    {
        string socket = ResolveSocket(args);
        bool json = args.Flag("json");
        args.RejectUnknown();
        JsonObject answer;
        try
        {
            answer = await ManagementClient.SendAsync(socket, new JsonObject { ["command"] = command }, TimeSpan.FromSeconds(10));
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
        {
            ConsoleLog.Write($"cannot reach a daemon at {socket}: {e.Message} (is 'vs run' running? pass --socket or --config)");
            return 1;
        }

        if (answer["ok"]?.GetValue<bool>() != true)
        {
            ConsoleLog.Write($"error: {answer["error"]}");
            return 1;
        }

        JsonNode? result = answer["result"];
        if (json)
        {
            Console.Out.WriteLine(result?.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }

        switch (command)
        {
            case "status":
                PrintStatus(result!.AsObject());
                break;
            case "flows":
                PrintFlows(result!.AsArray());
                break;
            case "stacks":
                PrintStacks(result!.AsArray());
                break;
        }

        return 0;
    }

    public static string ResolveSocket(ParsedArguments args)
    {
        if (args.Option("socket") is { } socket)
        {
            return socket;
        }

        if (args.Option("config") is { } file)
        {
            IConfiguration configuration = ConfigurationLoader.Load(file, args.Overrides);
            return configuration[$"{SettingsReader.Root}:Management:Socket"]
                ?? SettingsReader.DefaultSocket(configuration[$"{SettingsReader.Root}:Tun:Name"] ?? "vs0");
        }

        return SettingsReader.DefaultSocket("vs0");
    }

    private static void PrintStatus(JsonObject s)
    {
        TextWriter o = Console.Out;
        o.WriteLine($"tun {s["tun"]}  pid {s["pid"]}  up {s["uptime_s"]} s");
        o.WriteLine($"pipeline      {s["pipeline"]}");
        o.WriteLine($"from app      {s["packets_in"]} packets, {s["bytes_in"]} bytes in {s["batches"]} batches");
        o.WriteLine($"carried       {s["packets_sent"]} packets, {s["bytes_sent"]} bytes");
        o.WriteLine($"replies       {s["replies_written"]} written, {s["reply_errors"]} errors");
        JsonObject flows = s["flows"]!.AsObject();
        o.WriteLine($"flows         {flows["active"]} active (max {flows["max"]}), {flows["created"]} created, {flows["evicted"]} evicted, {flows["timed_out"]} timed out");
        o.WriteLine($"unparsed      {s["unparsed_to_default"]} sent to the default stack, {s["bad_ip_checksums"]} bad IPv4 header checksums");
        o.WriteLine($"drops         {s["drops_total"]}" + string.Concat(s["drops"]!.AsObject()
            .Where(d => d.Value!.GetValue<long>() != 0).Select(d => $"  {d.Key}={d.Value}")));
        if (s["rules"] is JsonArray { Count: > 0 } rules)
        {
            o.WriteLine();
            var table = new TableWriter("RULE", "STACKS", "POLICY", "OPTIONS", "FORCED", "ERRORS", "STATE");
            foreach (JsonNode? node in rules)
            {
                JsonObject r = node!.AsObject();
                string options = string.Join(' ', r["options"]!.AsObject().Select(p => $"{p.Key}={p.Value}"));
                string errors = r["policy_errors"]!.GetValue<long>() == 0 ? "0" : $"{r["policy_errors"]} (last: {r["last_error"]})";
                table.Add(r["name"], string.Join(',', r["stacks"]!.AsArray().Select(x => x!.ToString())), r["policy"],
                    options.Length == 0 ? "-" : options, r["forced"]?.ToString() ?? "-", errors, r["state"]?.ToString() ?? "-");
            }

            table.WriteTo(o);
        }
    }

    private static void PrintFlows(JsonArray flows)
    {
        var table = new TableWriter("ID", "FLOW", "RULE", "STACK", "PACKETS", "BYTES", "REPLIES", "SWITCHES", "DELAY us med/max", "IDLE", "CACHED (build ms)");
        foreach (JsonNode? node in flows)
        {
            JsonObject f = node!.AsObject();
            string cached = string.Join(' ', f["stacks"]!.AsArray().Select(x =>
                x!["state"]!.ToString() == "ready" ? $"{x["name"]}:ready({x["build_ms"]})" : $"{x["name"]}:{x["state"]}"));
            string stack = f["stack"]?.ToString() ?? "-";
            if (f["forced"] is { } forced)
            {
                stack += " (forced)";
            }
            else if (f["wanted"] is { } wanted)
            {
                stack += $" (-> {wanted})";
            }

            JsonObject delay = f["switch_delay_us"]!.AsObject();
            table.Add(f["id"], f["flow"], f["rule"], stack, f["packets"], f["bytes"], f["replies"], f["switches"],
                delay["count"]!.GetValue<long>() == 0 ? "-" : $"{delay["median"]}/{delay["max"]}",
                string.Create(CultureInfo.InvariantCulture, $"{f["idle_s"]}s"), cached);
        }

        table.WriteTo(Console.Out);
    }

    private static string Triple(JsonNode? summary) =>
        summary is null || summary["count"]!.GetValue<long>() == 0 ? "-" : $"{summary["min"]}/{summary["median"]}/{summary["max"]}";

    private static void PrintStacks(JsonArray stacks)
    {
        var table = new TableWriter("STACK", "PLUGIN", "CARRIES", "SENT", "BYTES", "RECEIVED", "DROPS", "FLOWS", "FAILED", "BUILD ms min/med/max", "SWITCHES IN", "DELAY us min/med/max");
        foreach (JsonNode? node in stacks)
        {
            JsonObject s = node!.AsObject();
            table.Add(s["name"], s["plugin"], s["carries"], s["packets_sent"], s["bytes_sent"], s["packets_received"], s["drops"], s["flows_opened"], s["open_failures"],
                Triple(s["build_ms"]), s["switch_delay_us"]?["count"] ?? 0, Triple(s["switch_delay_us"]));
        }

        table.WriteTo(Console.Out);
    }
}
