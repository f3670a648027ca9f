using System.Globalization;
using VirtualStack.Contracts.Flows;
using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Packets;
using VirtualStack.Contracts.Policies;

namespace VirtualStack.Host.Decision;

/// <summary>
/// Finds the local process that sent a flow, where the kernel tells it. A TUN device hands VS bare IP packets with no
/// sender, but the application's socket is in the kernel's socket table of the namespace VS runs in, bound to the
/// packet's source address and port: <c>/proc/net/{udp,udp6,tcp,tcp6}</c> give its owner's uid and its inode; the
/// process holding that inode (<c>/proc/PID/fd/* -> socket:[inode]</c>) gives its control groups
/// (<c>/proc/PID/cgroup</c>).
/// </summary>
/// <remarks>
/// Runs once per new flow of a rule whose policy asks (<see cref="ISenderAwarePolicy"/>). The socket table read
/// (<see cref="FindSocket"/>, about 0.1 ms) runs on the pipeline thread so that the flow's first packet is decided
/// by its uid; the process walk for cgroups (<see cref="Describe"/>, milliseconds to tens of milliseconds) runs on the
/// thread pool, and the flow's later packets see the result.
/// </remarks>
internal static class FlowSenderLookup
{
    /// <summary>Finds the sender at once: the socket's owner, and with <see cref="SenderDetails.Cgroup"/> its process and groups.</summary>
    public static FlowSender? Find(in FlowKey flow, SenderDetails details, string procRoot = "/proc")
    {
        if (details == SenderDetails.None || FindSocket(flow, procRoot) is not { } socket)
        {
            return null;
        }

        return (details & SenderDetails.Cgroup) == 0 ? new FlowSender(socket.Uid, -1, []) : Describe(socket.Uid, socket.Inode, procRoot);
    }

    /// <summary>
    /// The socket the flow's packets come from, in the kernel's socket table of this namespace: its owner and inode,
    /// or null (not UDP or TCP, or no such socket). One read of one or two small files: cheap enough per new flow.
    /// </summary>
    public static (int Uid, long Inode)? FindSocket(in FlowKey flow, string procRoot = "/proc")
    {
        string table = flow.Protocol switch
        {
            IpProtocols.Udp => "udp",
            IpProtocols.Tcp => "tcp",
            _ => "",
        };
        if (table.Length == 0)
        {
            return null;
        }

        // A dual-stack socket bound to [::] sends IPv4 packets too: an IPv4 flow is looked for in both tables.
        (int uid, long inode) = Search($"{procRoot}/net/{table}", flow);
        if (inode == 0)
        {
            (uid, inode) = Search($"{procRoot}/net/{table}6", flow);
        }

        return inode == 0 ? null : (uid, inode);
    }

    /// <summary>
    /// The process holding the socket and its control groups. Walks every process's descriptors: milliseconds to tens
    /// of milliseconds on a busy machine, so the host runs it off the pipeline thread.
    /// </summary>
    public static FlowSender Describe(int uid, long inode, string procRoot = "/proc")
    {
        int pid = FindHolder(procRoot, inode);
        return new FlowSender(uid, pid, pid >= 0 ? ReadCgroups($"{procRoot}/{pid}/cgroup") : []);
    }

    /// <summary>
    /// The best socket of one table for the flow: bound to its source port, to its source address or to any address,
    /// and not connected elsewhere; an exact address and a matching peer win. Returns (uid, inode), inode 0 if none.
    /// </summary>
    internal static (int Uid, long Inode) Search(string path, in FlowKey flow)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (IOException)
        {
            return (0, 0);
        }
        catch (UnauthorizedAccessException)
        {
            return (0, 0);
        }

        int bestScore = -1;
        (int Uid, long Inode) best = (0, 0);
        for (int i = 1; i < lines.Length; i++)
        {
            // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
            string[] f = lines[i].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 10 ||
                !TryEndpoint(f[1], out NetAddress local, out int localPort) ||
                !TryEndpoint(f[2], out NetAddress remote, out int remotePort) ||
                localPort != flow.SourcePort ||
                !int.TryParse(f[7], NumberStyles.None, CultureInfo.InvariantCulture, out int uid) ||
                !long.TryParse(f[9], NumberStyles.None, CultureInfo.InvariantCulture, out long inode) || inode == 0)
            {
                continue;
            }

            bool localExact = local == flow.Source;
            if (!localExact && !IsAny(local))
            {
                continue;
            }

            bool connected = remotePort != 0;
            if (connected && (remotePort != flow.DestinationPort || remote != flow.Destination))
            {
                continue;
            }

            int score = (localExact ? 2 : 0) + (connected ? 1 : 0);
            if (score > bestScore)
            {
                bestScore = score;
                best = (uid, inode);
            }
        }

        return best;
    }

    /// <summary>Parses <c>0100007F:0035</c> (IPv4) or 32 hex digits and a port (IPv6): each 32-bit word as the kernel printed it, in host order.</summary>
    internal static bool TryEndpoint(string text, out NetAddress address, out int port)
    {
        address = default;
        port = 0;
        int colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon is not (8 or 32) ||
            !int.TryParse(text.AsSpan(colon + 1), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out port))
        {
            return false;
        }

        Span<byte> bytes = stackalloc byte[colon / 2];
        for (int word = 0; word < colon / 8; word++)
        {
            if (!uint.TryParse(text.AsSpan(word * 8, 8), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out uint value))
            {
                return false;
            }

            // The kernel prints the network-order word as a host-order number: on little-endian machines its bytes
            // come out reversed.
            if (BitConverter.IsLittleEndian)
            {
                System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(bytes[(word * 4)..], value);
            }
            else
            {
                System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(bytes[(word * 4)..], value);
            }
        }

        address = NetAddress.Read(bytes);
        return true;
    }

    private static bool IsAny(NetAddress address) => address == NetAddress.AnyV4 || address == default;

    /// <summary>The process holding the socket inode (the first found), or -1.</summary>
    internal static int FindHolder(string procRoot, long inode)
    {
        string target = string.Create(CultureInfo.InvariantCulture, $"socket:[{inode}]");
        foreach (string process in SafeEnumerate(procRoot))
        {
            if (!int.TryParse(Path.GetFileName(process), NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
            {
                continue;
            }

            foreach (string fd in SafeEnumerate(Path.Combine(process, "fd")))
            {
                try
                {
                    if (new FileInfo(fd).LinkTarget == target)
                    {
                        return pid;
                    }
                }
                catch (IOException)
                {
                    // The process or descriptor went away meanwhile.
                }
                catch (UnauthorizedAccessException)
                {
                }
            }
        }

        return -1;
    }

    /// <summary>The control group paths of <c>/proc/PID/cgroup</c>, the cgroup v2 one (<c>0::</c>) first.</summary>
    internal static List<string> ReadCgroups(string path)
    {
        var cgroups = new List<string>();
        try
        {
            foreach (string line in File.ReadAllLines(path))
            {
                string[] parts = line.Split(':', 3);
                if (parts.Length != 3 || cgroups.Contains(parts[2]))
                {
                    continue;
                }

                if (parts[0] == "0")
                {
                    cgroups.Insert(0, parts[2]);
                }
                else
                {
                    cgroups.Add(parts[2]);
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return cgroups;
    }

    private static IEnumerable<string> SafeEnumerate(string directory)
    {
        try
        {
            return Directory.GetFileSystemEntries(directory);
        }
        catch (IOException)
        {
            return [];
        }
        catch (UnauthorizedAccessException)
        {
            return [];
        }
    }
}
