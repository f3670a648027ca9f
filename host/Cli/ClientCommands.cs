using System.Globalization;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Configuration;
using VirtualStack.Host.Configuration;
using VirtualStack.Contracts.Net;
using VirtualStack.Host.Management;
using VirtualStack.Host.Remote;

namespace VirtualStack.Host.Cli;

/// <summary>
/// <c>vs status | flows | stacks | switch | policy | measure</c>: ask or tell a running daemon through its management
/// socket. Human text by default, the daemon's JSON with <c>--json</c>.
/// </summary>
internal static class ClientCommands
{
    public const string Help = """
        Usage: vs status|flows|stacks [--socket PATH | --config FILE | --remote HOST:PORT --key-file FILE] [--json]
               vs switch FLOW|RULE STACK [--socket PATH | --config FILE] [--json]
               vs policy RULE NAME [KEY=VALUE ...] [--socket PATH | --config FILE] [--json]
               vs migrate FLOW|RULE ADDRESS:PORT [--path NAME | --stack NAME] [--socket PATH | --config FILE] [--json]
               vs measure STACK [loss=R] [rtt_ms=MS] [cwnd=PACKETS] [throughput_bps=BPS] [--rule RULE] [--flow ID] [...]

        Asks or tells a running daemon. The socket is --socket PATH, else the Management:Socket of --config FILE,
        else /run/virtualstack/vs.sock (owner-only: run as the user that runs vs run).
          status   counters: packets, drops by reason, flows, replies; rules with their policies and policy errors
          flows    the flow table: rule, active stack, switches and their delays, each cached stack and its build time;
                   for rules with paths, each path's state, counters and RTT
          stacks   per-stack counters, build times and switch delays (min/median/max)
          switch   forces a flow (its ID from vs flows, or flow:ID) or every flow of a rule (its name, or rule:NAME)
                   onto one of the rule's stacks, overriding the policy until vs policy sets one again
          policy   replaces a rule's policy at run time (Static, TimedSwitch, RuleBased, MeasurementDriven or a
                   plugin's), with its options (e.g. Period=00:00:01, When:0:Stack=udpB); checked first: a bad one
                   changes nothing; ends every override of the rule
          migrate  moves a flow (its ID, or flow:ID) or every flow of a rule (its name, or rule:NAME; new flows
                   too) to a new far end: a new stack flow (UDP binding, DCCP connection) is built at once and
                   takes over when ready; the application still talks to and hears from what it addressed.
                   On a rule with Paths, --path NAME moves one path, on another rule --stack NAME one of its
                   stacks (all of them without it)
          measure  hands a measurement of a stack (or of one flow on it: --flow) to the policies of the rules
                   that use it (or of --rule only), as MeasurementDriven reads them
        --json prints the daemon's answer as JSON (stable keys, for scripts).
        --remote HOST:PORT speaks to the daemon's remote interface (Management:Remote) instead of its socket,
        signing each command with the key of --key-file FILE (or $VS_MANAGEMENT_KEY) and checking the reply.
        Exit status: 0 done, 1 refused by the daemon (nothing changed) or no daemon, 2 bad usage.
        """;

    public static async Task<int> RunAsync(string command, ParsedArguments args)
    {
        string? remote = args.Option("remote");
        (NetEndpoint Server, byte[] Key)? controller = remote is null ? null : RemoteTarget(remote, args);
        string socket = controller is null ? ResolveSocket(args) : "";
        bool json = args.Flag("json");
        JsonObject request = Request(command, args);
        JsonObject answer;
        try
        {
            answer = await SendAsync(controller, socket, request);
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
        {
            string hint = e is SocketException { SocketErrorCode: SocketError.AccessDenied }
                ? "the socket is owner-only: run as the user that runs vs run"
                : controller is null ? "is 'vs run' running? pass --socket or --config" : "is Management:Remote configured and reachable?";
            ConsoleLog.Write($"cannot reach a daemon at {(controller is { } c ? c.Server.ToString() : socket)}: {e.Message} ({hint})");
            return 1;
        }

        return Print(command, answer, json);
    }

    /// <summary>One request to the daemon: over the local socket, or signed over the remote interface.</summary>
    internal static Task<JsonObject> SendAsync((NetEndpoint Server, byte[] Key)? remote, string socket, JsonObject request) =>
        remote is { } r
            ? RemoteClient.SendAsync(r.Server, r.Key, request, TimeSpan.FromSeconds(10))
            : ManagementClient.SendAsync(socket, request, TimeSpan.FromSeconds(10));

    /// <summary>--remote HOST:PORT with the key from --key-file FILE or $VS_MANAGEMENT_KEY (never on the command line: ps shows it).</summary>
    internal static (NetEndpoint Server, byte[] Key) RemoteTarget(string remote, ParsedArguments args)
    {
        if (!NetEndpoint.TryParse(remote, out NetEndpoint server) || server.Port == 0)
        {
            throw new UsageException($"--remote: '{remote}' is not an address and port like 10.201.0.1:7700");
        }

        string? file = args.Option("key-file");
        string? text = file is null ? Environment.GetEnvironmentVariable("VS_MANAGEMENT_KEY") : ReadKeyFile(file);
        if (text is null)
        {
            throw new UsageException("--remote needs the key: --key-file FILE or the environment variable VS_MANAGEMENT_KEY");
        }

        byte[] key = RemoteSettings.ParseKey(text) ?? throw new UsageException("the key is neither hex nor base64");
        return (server, key);
    }

    private static string ReadKeyFile(string file)
    {
        try
        {
            return File.ReadAllText(file).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"--key-file: cannot read '{file}': {e.Message}");
        }
    }

    /// <summary>Prints an answer the way the command shows it; 0 when the daemon did it, 1 when it refused.</summary>
    internal static int Print(string command, JsonObject answer, bool json)
    {
        var indented = new JsonSerializerOptions { WriteIndented = true };
        if (answer["ok"] is not JsonValue ok || !ok.TryGetValue(out bool done) || !done)
        {
            ConsoleLog.Write($"error: {answer["error"]}");
            if (json)
            {
                Console.Out.WriteLine(answer.ToJsonString(indented));
            }

            return 1;
        }

        JsonNode? result = answer["result"];
        if (json)
        {
            Console.Out.WriteLine(result?.ToJsonString(indented));
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
            case "switch":
                PrintSwitch(result!.AsObject());
                break;
            case "policy":
                PrintPolicy(result!.AsObject());
                break;
            case "migrate":
                PrintMigrate(result!.AsObject());
                break;
            case "measure":
                PrintMeasure(result!.AsObject());
                break;
            default:
                Console.Out.WriteLine(result?.ToJsonString(indented));
                break;
        }

        return 0;
    }

    /// <summary>The request for <paramref name="command"/> from the command line; usage errors throw (exit 2).</summary>
    internal static JsonObject Request(string command, ParsedArguments args)
    {
        var request = new JsonObject { ["command"] = command };
        List<string> words = args.Positional;
        switch (command)
        {
            case "switch":
                if (words.Count != 2)
                {
                    throw new UsageException("vs switch needs FLOW|RULE and STACK, e.g. vs switch 3 udpB or vs switch telemetry dccp");
                }

                request["target"] = words[0];
                request["stack"] = words[1];
                args.RejectUnknown(maxPositional: 2);
                break;
            case "policy":
                if (words.Count < 2)
                {
                    throw new UsageException("vs policy needs RULE and NAME, e.g. vs policy telemetry TimedSwitch Period=00:00:01");
                }

                request["rule"] = words[0];
                request["policy"] = words[1];
                request["options"] = Pairs(words.Skip(2), "option");
                args.RejectUnknown(maxPositional: words.Count);
                break;
            case "migrate":
                if (words.Count != 2)
                {
                    throw new UsageException("vs migrate needs FLOW|RULE and ADDRESS:PORT, e.g. vs migrate 3 10.202.0.2:9000 or vs migrate telemetry 10.202.0.2:9000");
                }

                if (!NetEndpoint.TryParse(words[1], out _))
                {
                    throw new UsageException($"vs migrate: '{words[1]}' is not an address and port like 10.202.0.2:9000 or [fd00:202::2]:9000");
                }

                request["target"] = words[0];
                request["to"] = words[1];
                if (args.Option("path") is { } path)
                {
                    request["path"] = path;
                }

                if (args.Option("stack") is { } stack)
                {
                    request["stack"] = stack;
                }

                args.RejectUnknown(maxPositional: 2);
                break;
            case "measure":
                if (words.Count < 2)
                {
                    throw new UsageException("vs measure needs STACK and at least one value, e.g. vs measure udpA loss=0.2 rtt_ms=35");
                }

                request["stack"] = words[0];
                foreach ((string key, JsonNode? value) in Pairs(words.Skip(1), "value"))
                {
                    string text = value!.GetValue<string>();
                    if (key is not ("loss" or "rtt_ms" or "cwnd" or "throughput_bps"))
                    {
                        throw new UsageException($"unknown measurement '{key}' (known: loss, rtt_ms, cwnd, throughput_bps)");
                    }

                    request[key] = double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double number)
                        ? number
                        : throw new UsageException($"{key}: '{text}' is not a number");
                }

                if (args.Option("rule") is { } rule)
                {
                    request["rule"] = rule;
                }

                if (args.Option("flow") is { } flow)
                {
                    request["flow"] = long.TryParse(flow, NumberStyles.None, CultureInfo.InvariantCulture, out long id)
                        ? id
                        : throw new UsageException($"--flow: '{flow}' is not a flow number");
                }

                args.RejectUnknown(maxPositional: words.Count);
                break;
            default:
                args.RejectUnknown();
                break;
        }

        return request;
    }

    private static JsonObject Pairs(IEnumerable<string> words, string what)
    {
        var pairs = new JsonObject();
        foreach (string word in words)
        {
            int equals = word.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                throw new UsageException($"'{word}' is not a {what} written KEY=VALUE");
            }

            pairs[word[..equals]] = word[(equals + 1)..];
        }

        return pairs;
    }

    private static void PrintSwitch(JsonObject r)
    {
        if (r["flow"] is not null)
        {
            Console.Out.WriteLine($"flow {r["flow"]} ({r["key"]}, rule {r["rule"]}): forced onto {r["stack"]} (was {r["was"]?.ToString() ?? "none yet"})");
        }
        else
        {
            Console.Out.WriteLine($"rule {r["rule"]}: every flow ({r["flows"]} now) forced onto {r["stack"]} (policy {r["policy"]} overridden)");
        }

        Console.Out.WriteLine(r["note"]?.ToString());
    }

    private static void PrintPolicy(JsonObject r)
    {
        static string Options(JsonNode? o) => o is JsonObject { Count: > 0 } obj ? " " + string.Join(' ', obj.Select(p => $"{p.Key}={p.Value}")) : "";
        JsonObject was = r["was"]!.AsObject();
        Console.Out.WriteLine($"rule {r["rule"]}: policy {r["policy"]}{Options(r["options"])} (was {was["policy"]}{Options(was["options"])}{(was["forced"] is { } f ? $", forced onto {f}" : "")})");
        Console.Out.WriteLine($"state: {r["state"]}");
        Console.Out.WriteLine(r["note"]?.ToString());
    }

    private static void PrintMeasure(JsonObject r)
    {
        foreach (JsonNode? node in r["delivered"]!.AsArray())
        {
            JsonObject d = node!.AsObject();
            Console.Out.WriteLine(d["error"] is { } error
                ? $"rule {d["rule"]} ({d["policy"]}): the policy failed to take it: {error}"
                : $"rule {d["rule"]} ({d["policy"]}): {d["state"]}");
        }
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
        if (s["remote"] is JsonObject remote)
        {
            string refused = string.Concat(remote["refused"]!.AsObject().Where(r => r.Value!.GetValue<long>() != 0).Select(r => $" {r.Key}={r.Value}"));
            o.WriteLine($"remote        {remote["listen"]}: {remote["accepted"]} accepted, {remote["refused_total"]} refused{(refused.Length > 0 ? ":" + refused : "")}");
        }

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

    private static void PrintMigrate(JsonObject r)
    {
        string path = r["path"] is { } p ? $" path {p}" : r["stack"] is { } st ? $" stack {st}" : "";
        Console.Out.WriteLine(r["flow"] is { } flow
            ? $"flow {flow} ({r["key"]}){path}: moving to {r["to"]}{(r["was"] is { } was ? $" (was {was})" : "")}"
            : $"rule {r["rule"]}{path}: {r["flows"]} flow(s) and new ones moving to {r["to"]}");
        foreach (JsonNode? problem in r["problems"]?.AsArray() ?? [])
        {
            Console.Out.WriteLine($"  not moved: {problem}");
        }
    }

    private static void PrintPaths(JsonArray flows)
    {
        var table = new TableWriter("FLOW", "PATH", "STACK", "REMOTE", "STATE", "SENT", "BYTES", "DROPS", "PROBES", "REPLIES", "RTT ms", "DOWNS/BACK", "WHY DOWN");
        int rows = 0;
        foreach (JsonNode? node in flows)
        {
            if (node!["paths"] is not JsonObject paths)
            {
                continue;
            }

            foreach (JsonNode? p in paths["list"]!.AsArray())
            {
                table.Add(node["id"], p!["name"], p["stack"], p["remote"] ?? "-", p["state"], p["packets_sent"], p["bytes_sent"], p["drops"], p["probes"],
                    p["packets_received"], p["rtt_ms"] ?? "-", $"{p["downs"]}/{p["recoveries"]}", p["reason"] ?? "-");
                rows++;
            }
        }

        if (rows > 0)
        {
            Console.Out.WriteLine();
            table.WriteTo(Console.Out);
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
        PrintPaths(flows);
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
