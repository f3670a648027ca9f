using System.Globalization;
using VirtualStack.Host.Lab;
using VirtualStack.Host.Setup;

namespace VirtualStack.Host.Bench;

/// <summary>
/// Random loss on the bench's veth, in the data direction (edge -> server): <c>tc netem loss PCT%</c> on the edge
/// end, or, on a kernel built without sch_netem, an nftables rule that drops the same share of what arrives at the
/// server end (<c>numgen random</c>, steps of 0.01 %). Removed on <see cref="Dispose"/> and at process exit (Ctrl-C);
/// deleting the lab's namespaces would remove it too.
/// </summary>
internal sealed class DccpLossShaping : IDisposable
{
    private const string Table = "vsbench_loss";

    private readonly LabTopology _lab;
    private readonly string _device;
    private int _removed;

    private DccpLossShaping(LabTopology lab, string device, string method)
    {
        _lab = lab;
        _device = device;
        Method = method;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Dispose();
    }

    /// <summary><c>netem</c> or <c>nftables</c>.</summary>
    public string Method { get; }

    public static DccpLossShaping Apply(LabTopology lab, double percent, Action<string> log)
    {
        string edgeDevice = Veth(lab.Edge);
        string text = percent.ToString("0.##", CultureInfo.InvariantCulture);
        (int exit, _, string error) = CommandRunner.Run("tc", "-n", lab.Edge, "qdisc", "add", "dev", edgeDevice, "root", "netem", "loss", $"{text}%");
        if (exit == 0)
        {
            log($"loss: tc netem loss {text}% on {edgeDevice} (edge -> server)");
            return new DccpLossShaping(lab, edgeDevice, "netem");
        }

        // No sch_netem in this kernel ("Specified qdisc kind is unknown"): drop at the far end of the same veth.
        string serverDevice = Veth(lab.Server);
        NftablesLoss.Add(lab.Server, Table, serverDevice, percent);
        log($"loss: tc netem is not available ({error.Trim()}); nftables drops {text}% of what arrives on {serverDevice} (edge -> server)");
        return new DccpLossShaping(lab, serverDevice, "nftables");
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _removed, 1) != 0)
        {
            return;
        }

        if (Method == "netem")
        {
            CommandRunner.Run("tc", "-n", _lab.Edge, "qdisc", "del", "dev", _device, "root");
        }
        else
        {
            NftablesLoss.Remove(_lab.Server, Table);
        }
    }

    // The lab's one veth end in a namespace ("<tag>e1" / "<tag>s1").
    private static string Veth(string ns)
    {
        (int exit, string output, string error) = CommandRunner.Run("ip", "-n", ns, "-o", "link", "show", "type", "veth");
        if (exit != 0)
        {
            throw new InvalidOperationException($"cannot list the veth in {ns}: {error}");
        }

        // "5: vsb1a2be1@if4: <BROADCAST,..."
        string line = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault()
            ?? throw new InvalidOperationException($"no veth in {ns}");
        string name = line.Split(':')[1].Trim();
        int at = name.IndexOf('@', StringComparison.Ordinal);
        return at > 0 ? name[..at] : name;
    }
}
