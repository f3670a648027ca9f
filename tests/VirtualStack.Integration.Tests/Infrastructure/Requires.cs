namespace VirtualStack.Integration.Tests.Infrastructure;

/// <summary>Skips a test, with a reason a person can act on, when the machine cannot run it.</summary>
internal static class Requires
{
    public const string RootReason = "needs root and /dev/net/tun: run as root, CI does";

    private static readonly Dictionary<string, string> Packages = new(StringComparer.Ordinal)
    {
        ["ip"] = "iproute2",
        ["ss"] = "iproute2",
        ["sysctl"] = "procps",
        ["ping"] = "iputils-ping",
        ["socat"] = "socat",
    };

    /// <summary>Root, /dev/net/tun and the iproute2/procps tools every topology needs.</summary>
    public static void Root()
    {
        Skip.IfNot(LibC.geteuid() == 0 && File.Exists("/dev/net/tun"), RootReason);
        Tools("ip", "ss", "sysctl");
    }

    /// <summary>Programs the test runs as "unchanged applications"; .ci/run installs all of them.</summary>
    public static void Tools(params string[] programs)
    {
        foreach (var program in programs)
        {
            var package = Packages.GetValueOrDefault(program, program);
            Skip.IfNot(Cmd.Exists(program), $"needs {program} on PATH: .ci/run installs it (apt-get install {package})");
        }
    }
}
