using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using VirtualStack.Host.Cli;

namespace VirtualStack.Host.Monitor;

/// <summary>Renders one frame of <c>vs top</c> from the daemon's status and flows, with rates against the previous frame.</summary>
internal sealed class TopScreen
{
    private readonly Dictionary<long, (long Packets, long Bytes)> _previousFlows = [];
    private (long PacketsIn, long BytesIn, long Sent, long Replies, long Drops)? _previous;
    private DateTimeOffset _previousAt;

    public string Render(JsonObject statusAnswer, JsonObject flowsAnswer, DateTimeOffset now, int maxFlows)
    {
        var text = new StringBuilder();
        if (statusAnswer["result"] is not JsonObject s || flowsAnswer["result"] is not JsonArray flows)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"vs top  {now:yyyy-MM-dd HH:mm:ss}Z  error: {statusAnswer["error"] ?? flowsAnswer["error"]}");
            return text.ToString();
        }

        double seconds = _previous is null ? 0 : Math.Max(0.001, (now - _previousAt).TotalSeconds);
        var current = (Long(s["packets_in"]), Long(s["bytes_in"]), Long(s["packets_sent"]), Long(s["replies_written"]), Long(s["drops_total"]));
        string Rate(long value, long before) => seconds == 0 ? "-" : ((value - before) / seconds).ToString("0", CultureInfo.InvariantCulture);
        var p = _previous ?? current;
        JsonObject table = s["flows"]!.AsObject();

        text.AppendLine(CultureInfo.InvariantCulture, $"vs top  tun {s["tun"]}  pid {s["pid"]}  up {s["uptime_s"]} s  {now:yyyy-MM-dd HH:mm:ss}Z    q or Ctrl-C: quit");
        text.AppendLine(CultureInfo.InvariantCulture,
            $"in      {Rate(current.Item1, p.Item1)} pkt/s  {Mbit(current.Item2 - p.Item2, seconds)} Mbit/s   carried {Rate(current.Item3, p.Item3)} pkt/s   replies {Rate(current.Item4, p.Item4)} pkt/s   (totals: in {current.Item1}, carried {current.Item3})");
        string drops = string.Concat(s["drops"]!.AsObject().Where(d => Long(d.Value) != 0).Select(d => $" {d.Key}={d.Value}"));
        text.AppendLine(CultureInfo.InvariantCulture,
            $"drops   {current.Item5}{(seconds == 0 ? "" : $" (+{Rate(current.Item5, p.Item5)}/s)")}{drops}   flows {table["active"]} active, {table["created"]} created, {table["evicted"]} evicted, {table["timed_out"]} timed out");
        if (s["remote"] is JsonObject remote)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"remote  {remote["listen"]}: {remote["accepted"]} accepted, {remote["refused_total"]} refused");
        }

        text.AppendLine();
        var rules = new TableWriter("RULE", "POLICY", "FORCED", "ERRORS", "STATE");
        foreach (JsonNode? node in s["rules"] as JsonArray ?? [])
        {
            JsonObject r = node!.AsObject();
            rules.Add(r["name"], r["policy"], r["forced"]?.ToString() ?? "-", r["policy_errors"], r["state"]?.ToString() ?? "-");
        }

        var writer = new StringWriter(CultureInfo.InvariantCulture);
        rules.WriteTo(writer);
        text.Append(writer);
        text.AppendLine();

        var rows = new List<(double Pps, JsonObject Flow, string Mbps)>();
        var seen = new Dictionary<long, (long, long)>();
        foreach (JsonNode? node in flows)
        {
            JsonObject f = node!.AsObject();
            long id = Long(f["id"]);
            long packets = Long(f["packets"]);
            long bytes = Long(f["bytes"]);
            seen[id] = (packets, bytes);
            (long packetsBefore, long bytesBefore) = _previousFlows.TryGetValue(id, out var before) ? before : (packets, bytes);
            double pps = seconds == 0 ? 0 : (packets - packetsBefore) / seconds;
            rows.Add((pps, f, Mbit(bytes - bytesBefore, seconds)));
        }

        var flowTable = new TableWriter("ID", "FLOW", "RULE", "STACK", "PKT/S", "MBIT/S", "PACKETS", "SWITCHES", "DELAY us med/max", "IDLE");
        foreach ((double pps, JsonObject f, string mbps) in rows.OrderByDescending(r => r.Pps).ThenBy(r => Long(r.Flow["id"])).Take(maxFlows))
        {
            JsonObject delay = f["switch_delay_us"]!.AsObject();
            string stack = f["stack"]?.ToString() ?? "-";
            if (f["forced"] is not null)
            {
                stack += "*";
            }

            flowTable.Add(f["id"], f["flow"], f["rule"], stack, seconds == 0 ? "-" : pps.ToString("0", CultureInfo.InvariantCulture), mbps,
                f["packets"], f["switches"], Long(delay["count"]) == 0 ? "-" : $"{delay["median"]}/{delay["max"]}",
                string.Create(CultureInfo.InvariantCulture, $"{f["idle_s"]}s"));
        }

        writer = new StringWriter(CultureInfo.InvariantCulture);
        flowTable.WriteTo(writer);
        text.Append(writer);
        if (rows.Count > maxFlows)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"... and {rows.Count - maxFlows} more flows (vs flows lists them all; * = forced by an operator)");
        }

        _previous = current;
        _previousAt = now;
        _previousFlows.Clear();
        foreach ((long id, (long, long) value) in seen)
        {
            _previousFlows[id] = value;
        }

        return text.ToString();
    }

    private static string Mbit(long bytes, double seconds) =>
        seconds == 0 ? "-" : (bytes * 8 / seconds / 1e6).ToString("0.00", CultureInfo.InvariantCulture);

    private static long Long(JsonNode? node) => node is JsonValue v && v.TryGetValue(out long value) ? value : 0;
}
