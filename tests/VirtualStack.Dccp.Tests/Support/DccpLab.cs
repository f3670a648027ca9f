using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace VirtualStack.Dccp.Tests.Support;

/// <summary>
/// Access to the Linux-kernel DCCP peer of /work/shared/dccp-lab (network namespace <c>dccplab</c>, VM at
/// 10.254.0.2, control port tcp/7000). The test process stays in its own namespace: sockets that must live in the
/// lab namespace (the raw DCCP socket, control connections) are created on a short-lived thread that first
/// enters the namespace with setns(2) — a socket belongs to the namespace it was created in and can then be used
/// from any thread. So the whole test run needs no <c>ip netns exec</c>; it needs root (setns, raw sockets).
/// </summary>
internal static partial class DccpLab
{
    public const string Namespace = "dccplab";
    public static readonly IPAddress Vm = IPAddress.Parse("10.254.0.2");
    public static readonly IPAddress Host = IPAddress.Parse("10.254.0.1");
    private const int ControlPort = 7000;

    private static readonly Lazy<string?> Unavailable = new(Probe);

    /// <summary>Null when the lab is up and usable, else why not (the skip reason).</summary>
    public static string? WhyUnavailable => Unavailable.Value;

    /// <summary>Runs <paramref name="create"/> on a thread inside the lab's network namespace.</summary>
    public static T InLab<T>(Func<T> create)
    {
        T? result = default;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                EnterNamespace(Namespace);
                result = create();
            }
            catch (Exception e)
            {
                error = e;
            }
        });
        thread.Start();
        thread.Join();
        if (error is not null)
        {
            throw new InvalidOperationException("in netns " + Namespace + ": " + error.Message, error);
        }

        return result!;
    }

    /// <summary>Sends one control command (lab README "Control protocol") and returns the whole reply.</summary>
    public static async Task<string> ControlAsync(string command, TimeSpan timeout)
    {
        using Socket socket = InLab(() => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
        using var cts = new CancellationTokenSource(timeout);
        await socket.ConnectAsync(new IPEndPoint(Vm, ControlPort), cts.Token);
        await socket.SendAsync(Encoding.ASCII.GetBytes(command + "\n"), cts.Token);
        var reply = new StringBuilder();
        byte[] buffer = new byte[65536];
        int n;
        while ((n = await socket.ReceiveAsync(buffer, cts.Token)) > 0)
        {
            reply.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }

        return reply.ToString();
    }

    /// <summary>The labd "conn" line for a peer, as key=value pairs, or null.</summary>
    public static async Task<Dictionary<string, string>?> ConnectionStatsAsync(string peer)
    {
        string stats = await ControlAsync("stats", TimeSpan.FromSeconds(20));
        foreach (string line in stats.Split('\n'))
        {
            if (line.StartsWith("conn ", StringComparison.Ordinal) && line.Contains($" peer={peer} ", StringComparison.Ordinal))
            {
                return line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Where(kv => kv.Contains('='))
                    .Select(kv => kv.Split('=', 2)).ToDictionary(kv => kv[0], kv => kv[1]);
            }
        }

        return null;
    }

    private static string? Probe()
    {
        if (!Environment.IsPrivilegedProcess)
        {
            return "the DCCP lab tests need root (setns into netns dccplab, raw IP sockets)";
        }

        if (!File.Exists("/var/run/netns/" + Namespace))
        {
            return "the DCCP lab is down (no netns dccplab): run `./lab up` as root in /work/shared/dccp-lab";
        }

        try
        {
            string reply = ControlAsync("ping", TimeSpan.FromSeconds(5)).GetAwaiter().GetResult();
            return reply.Length > 0 && !reply.StartsWith("error", StringComparison.Ordinal)
                ? null
                : $"the DCCP lab's control port answered '{reply.Trim()}'";
        }
        catch (Exception e)
        {
            return $"the DCCP lab does not answer on 10.254.0.2:7000 inside netns dccplab ({e.Message}): `./lab up`";
        }
    }

    private static void EnterNamespace(string name)
    {
        const int CloneNewNet = 0x40000000;
        int fd = Open("/var/run/netns/" + name, 0x80000 /* O_RDONLY | O_CLOEXEC */);
        if (fd < 0)
        {
            throw new IOException($"open netns {name}: errno {Marshal.GetLastPInvokeError()}");
        }

        try
        {
            if (SetNs(fd, CloneNewNet) != 0)
            {
                throw new IOException($"setns {name}: errno {Marshal.GetLastPInvokeError()}");
            }
        }
        finally
        {
            Close(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNs(int fd, int nstype);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
