namespace VirtualStack.Contracts.Policies;

/// <summary>
/// The local sender of a flow, as the kernel tells it: the owner of the socket the flow's packets come from (its uid,
/// from the socket table, <c>/proc/net/udp</c> and friends) and, when asked for, the process holding that socket and
/// its control groups (<c>/proc/PID/cgroup</c>). Immutable, made once per flow.
/// </summary>
public sealed class FlowSender
{
    private readonly string[] _cgroups;

    /// <summary>Creates a sender.</summary>
    /// <param name="uid">The socket owner's user id.</param>
    /// <param name="processId">The process holding the socket, or -1 when not looked up or not found.</param>
    /// <param name="cgroups">The process's control group paths (one per hierarchy; the cgroup v2 path first), or empty.</param>
    public FlowSender(int uid, int processId, IReadOnlyList<string> cgroups)
    {
        Uid = uid;
        ProcessId = processId;
        _cgroups = [.. cgroups];
    }

    /// <summary>The user id that owns the sending socket.</summary>
    public int Uid { get; }

    /// <summary>The process holding the socket, or -1 when unknown (not asked for, or the socket had no process).</summary>
    public int ProcessId { get; }

    /// <summary>The process's control group paths, e.g. <c>/system.slice/app.service</c>; empty when unknown.</summary>
    public IReadOnlyList<string> Cgroups => _cgroups;

    /// <summary>
    /// True when one of the process's control groups is <paramref name="path"/> or lies below it (<c>/a</c> contains
    /// <c>/a</c> and <c>/a/b</c>, not <c>/ab</c>). Allocates nothing.
    /// </summary>
    public bool InCgroup(string path)
    {
        string trimmed = path.Length > 1 ? path.TrimEnd('/') : path;
        foreach (string cgroup in _cgroups)
        {
            if (cgroup.StartsWith(trimmed, StringComparison.Ordinal) &&
                (cgroup.Length == trimmed.Length || trimmed == "/" || cgroup[trimmed.Length] == '/'))
            {
                return true;
            }
        }

        return false;
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"uid {Uid}" + (ProcessId >= 0 ? $", pid {ProcessId}" : "") + (_cgroups.Length > 0 ? $", cgroup {_cgroups[0]}" : "");
}
