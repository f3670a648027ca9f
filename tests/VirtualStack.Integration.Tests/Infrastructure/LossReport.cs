using System.Text;

namespace VirtualStack.Integration.Tests.Infrastructure;

/// <summary>
/// Where datagrams went missing, for a failure message: VS's own counters (drops by reason), the TUN device's
/// counters, and the kernel's UDP counters in each namespace (a full receive buffer shows as RcvbufErrors). A loss
/// test that fails on a busy machine must say which queue overflowed, not only that something did.
/// </summary>
internal static class LossReport
{
    public static async Task<string> DescribeAsync(NetnsTopology topology, VsInstance? vs)
    {
        var text = new StringBuilder("--- where to look for the loss ---\n");
        if (vs is not null && !vs.Process.HasExited)
        {
            try
            {
                using var status = await vs.StatusAsync();
                text.Append("vs status: ").Append(status.RootElement.GetRawText()).Append('\n');
            }
            catch (InvalidOperationException e)
            {
                text.Append("vs status failed: ").Append(e.Message).Append('\n');
            }
        }

        foreach (var ns in new[] { topology.Edge, topology.Server })
        {
            var link = await Cmd.RunAsync("ip", ["-n", ns, "-s", "link"], TimeSpan.FromSeconds(10));
            text.Append($"[{ns}] ip -s link:\n").Append(link.StdOut);
            var snmp = await Cmd.RunAsync("ip", ["netns", "exec", ns, "cat", "/proc/net/snmp"], TimeSpan.FromSeconds(10));
            foreach (var line in snmp.StdOut.Split('\n'))
            {
                if (line.StartsWith("Udp:", StringComparison.Ordinal))
                {
                    text.Append($"[{ns}] ").Append(line).Append('\n');
                }
            }
        }

        return text.ToString();
    }
}
