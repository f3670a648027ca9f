using System.Globalization;
using System.Text.Json.Nodes;
using VirtualStack.Host.Setup;

namespace VirtualStack.Host.Bench;

/// <summary>
/// Where datagrams that did not reach the counter were lost, from the kernel's counters: the VNIC's transmit drops
/// in the edge namespace (VS did not read fast enough) and UDP receive-buffer overflows in the server namespace
/// (the counter, or with DCCP the relay in front of it, did not keep up).
/// </summary>
internal sealed record DccpDropCounters(long VnicDropped, long ServerUdpRcvbufErrors)
{
    public static DccpDropCounters Read(string edge, string server, string vnic)
    {
        (int exit, string output, _) = CommandRunner.Run("ip", "netns", "exec", edge, "cat", $"/sys/class/net/{vnic}/statistics/tx_dropped");
        long vnicDropped = exit == 0 && long.TryParse(output.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out long d) ? d : 0;
        return new DccpDropCounters(vnicDropped, UdpCounter(server, "RcvbufErrors"));
    }

    public DccpDropCounters Since(DccpDropCounters before) =>
        new(VnicDropped - before.VnicDropped, ServerUdpRcvbufErrors - before.ServerUdpRcvbufErrors);

    public JsonObject ToJson() => new() { ["vnic_tx_dropped"] = VnicDropped, ["server_udp_rcvbuf_errors"] = ServerUdpRcvbufErrors };

    // /proc/net/snmp: "Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors ..." then the values line.
    private static long UdpCounter(string ns, string name)
    {
        (int exit, string output, _) = CommandRunner.Run("ip", "netns", "exec", ns, "cat", "/proc/net/snmp");
        if (exit != 0)
        {
            return 0;
        }

        string[] lines = output.Split('\n');
        for (int i = 0; i + 1 < lines.Length; i++)
        {
            if (lines[i].StartsWith("Udp: ", StringComparison.Ordinal) && lines[i + 1].StartsWith("Udp: ", StringComparison.Ordinal))
            {
                string[] names = lines[i].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                string[] values = lines[i + 1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                int at = Array.IndexOf(names, name);
                return at > 0 && at < values.Length && long.TryParse(values[at], NumberStyles.Integer, CultureInfo.InvariantCulture, out long v) ? v : 0;
            }
        }

        return 0;
    }
}
