using System.Diagnostics;
using System.Text;

namespace VirtualStack.Integration.Tests.Infrastructure;

/// <summary>The outcome of a short command run to completion.</summary>
internal sealed record CmdResult(string CommandLine, int ExitCode, string StdOut, string StdErr)
{
    public bool Ok => ExitCode == 0;

    public override string ToString() =>
        $"`{CommandLine}` exited with {ExitCode}: {StdErr.Trim()} {StdOut.Trim()}".TrimEnd();
}

/// <summary>Runs short-lived commands (ip, sysctl, ss, vs status) and collects their output.</summary>
internal static class Cmd
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    public static Task<CmdResult> RunAsync(string file, params string[] args) =>
        RunAsync(file, args, timeout: null);

    public static async Task<CmdResult> RunAsync(
        string file, IEnumerable<string> args, TimeSpan? timeout = null, string? stdin = null,
        IReadOnlyDictionary<string, string?>? environment = null)
    {
        using var process = new Process { StartInfo = StartInfo(file, args, stdin is not null, environment) };
        var commandLine = Describe(file, args);
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        process.OutputDataReceived += (_, e) => Append(stdout, e.Data);
        process.ErrorDataReceived += (_, e) => Append(stderr, e.Data);
        if (!process.Start())
        {
            throw new InvalidOperationException($"could not start `{commandLine}`");
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (stdin is not null)
        {
            try
            {
                await process.StandardInput.WriteAsync(stdin);
                process.StandardInput.Close();
            }
            catch (IOException)
            {
                // The program exited without reading all of it; its exit code and output tell why.
            }
        }

        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            // Our own child: kill it by its pid (Process.Kill targets exactly the process we started).
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"`{commandLine}` did not finish within {timeout ?? DefaultTimeout}: {stderr}");
        }

        lock (stdout)
        {
            lock (stderr)
            {
                return new CmdResult(commandLine, process.ExitCode, stdout.ToString(), stderr.ToString());
            }
        }
    }

    /// <summary>Runs a command and throws with its output when it does not exit 0.</summary>
    public static async Task<CmdResult> CheckedAsync(string file, params string[] args)
    {
        var result = await RunAsync(file, args, timeout: null);
        return result.Ok ? result : throw new InvalidOperationException(result.ToString());
    }

    /// <summary>Synchronous run for teardown paths that cannot await (finalizer, process exit).</summary>
    public static CmdResult Run(string file, params string[] args) =>
        RunAsync(file, args, TimeSpan.FromSeconds(20)).GetAwaiter().GetResult();

    /// <summary>Whether a program is on PATH (what the tests need from the machine).</summary>
    public static bool Exists(string program)
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin";
        foreach (var dir in path.Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            if (File.Exists(Path.Combine(dir, program)))
            {
                return true;
            }
        }

        return false;
    }

    public static ProcessStartInfo StartInfo(
        string file, IEnumerable<string> args, bool redirectStdin, IReadOnlyDictionary<string, string?>? environment)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = redirectStdin,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        if (environment is not null)
        {
            foreach (var (key, value) in environment)
            {
                if (value is null)
                {
                    info.Environment.Remove(key);
                }
                else
                {
                    info.Environment[key] = value;
                }
            }
        }

        return info;
    }

    public static string Describe(string file, IEnumerable<string> args) =>
        string.Join(' ', new[] { file }.Concat(args.Select(a => a.Contains(' ') ? $"'{a}'" : a)));

    private static void Append(StringBuilder sb, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (sb)
        {
            sb.AppendLine(line);
        }
    }
}
