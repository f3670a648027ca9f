namespace VirtualStack.Integration.Tests.Infrastructure;

/// <summary>
/// Finds the <c>vs</c> executable the tests drive: <c>$VS_EXE</c> when set, else the host built beside this test
/// assembly (<c>ARTIFACTS/bin/VirtualStack.Host/CONFIG/vs</c>; this project references the host, so one build
/// makes both, whatever ArtifactsPath is), else the repository's own <c>artifacts/</c> found by searching up from
/// the test assembly for VirtualStack.sln.
/// </summary>
internal static class VsExecutable
{
    private static readonly Lazy<string> Resolved = new(Resolve);

    public static string Path => Resolved.Value;

    private static readonly Lazy<string> ForOthers = new(ResolveForOthers);

    /// <summary>
    /// A <c>vs</c> that another user (nobody) can start, for the management client run as someone else: <see cref="Path"/>
    /// when every directory above it lets others through, else a copy of its top-level files (the host and its
    /// dependencies, 4 MB; plugins are not needed by a client command) in a fresh world-readable directory. A checkout
    /// under a 0700 directory (what <c>mktemp -d</c> makes) would otherwise fail as "Failed to resolve full path of
    /// the current executable", which says nothing about VS.
    /// </summary>
    public static string PathForOtherUsers => ForOthers.Value;

    /// <summary>Where the plugins were deployed: <c>plugins/</c> beside <c>vs</c>.</summary>
    public static string PluginsDirectory => System.IO.Path.Combine(System.IO.Path.GetDirectoryName(Path)!, "plugins");

    /// <summary>
    /// The environment for a <c>vs</c> child: DOTNET_ROOT of the runtime running the tests (the apphost needs it
    /// when dotnet is not installed where it looks by default) and none of the caller's VS__ overrides, so that
    /// only the test's configuration counts.
    /// </summary>
    public static IReadOnlyDictionary<string, string?> Environment()
    {
        var env = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var key in System.Environment.GetEnvironmentVariables().Keys.Cast<string>())
        {
            if (key.StartsWith("VS__", StringComparison.Ordinal))
            {
                env[key] = null;
            }
        }

        if (string.IsNullOrEmpty(System.Environment.GetEnvironmentVariable("DOTNET_ROOT")))
        {
            // .../dotnet/shared/Microsoft.NETCore.App/<version>/System.Private.CoreLib.dll -> .../dotnet
            var runtimeDir = System.IO.Path.GetDirectoryName(typeof(object).Assembly.Location);
            if (runtimeDir is not null)
            {
                env["DOTNET_ROOT"] = System.IO.Path.GetFullPath(System.IO.Path.Combine(runtimeDir, "..", "..", ".."));
            }
        }

        return env;
    }

    private static string ResolveForOthers()
    {
        string directory = System.IO.Path.GetDirectoryName(Path)!;
        bool reachable = true;
        for (var dir = new DirectoryInfo(directory); dir is not null && reachable; dir = dir.Parent)
        {
            reachable = (File.GetUnixFileMode(dir.FullName) & UnixFileMode.OtherExecute) != 0;
        }

        if (reachable)
        {
            return Path;
        }

        var copy = Directory.CreateTempSubdirectory("vs-integ-others-");
        File.SetUnixFileMode(copy.FullName, (UnixFileMode)0b111_101_101);
        foreach (var file in Directory.EnumerateFiles(directory))
        {
            File.Copy(file, System.IO.Path.Combine(copy.FullName, System.IO.Path.GetFileName(file)));
        }

        AppDomain.CurrentDomain.ProcessExit += (_, _) => copy.Delete(recursive: true);
        return System.IO.Path.Combine(copy.FullName, "vs");
    }

    private static string Resolve()
    {
        var fromEnv = System.Environment.GetEnvironmentVariable("VS_EXE");
        if (!string.IsNullOrEmpty(fromEnv))
        {
            return File.Exists(fromEnv)
                ? System.IO.Path.GetFullPath(fromEnv)
                : throw new FileNotFoundException($"VS_EXE={fromEnv} does not exist");
        }

        var tried = new List<string>();
        var testDir = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/'));
        var pivot = testDir.Name;
        if (testDir.Parent?.Parent is { } bin)
        {
            var sibling = System.IO.Path.Combine(bin.FullName, "VirtualStack.Host", pivot, "vs");
            tried.Add(sibling);
            if (File.Exists(sibling))
            {
                return sibling;
            }
        }

        for (var dir = testDir; dir is not null; dir = dir.Parent)
        {
            if (!File.Exists(System.IO.Path.Combine(dir.FullName, "VirtualStack.sln")))
            {
                continue;
            }

            foreach (var config in new[] { pivot, "release", "debug" })
            {
                var candidate = System.IO.Path.Combine(dir.FullName, "artifacts", "bin", "VirtualStack.Host", config, "vs");
                tried.Add(candidate);
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        throw new FileNotFoundException(
            $"vs executable not found (set VS_EXE or build VirtualStack.Host); tried: {string.Join(", ", tried)}");
    }
}
