using System.Diagnostics;

namespace VirtualStack.Host.Lab;

/// <summary>
/// A program started inside a lab namespace (<c>ip netns exec</c>, which execs, so the pid is the program's own),
/// with its output collected line by line. Stopped by pid only: we never signal what we did not start.
/// </summary>
internal sealed class LabProcess : IDisposable
{
    private readonly Process _process;
    private readonly List<string> _output = [];
    private readonly List<string> _errors = [];
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private LabProcess(Process process, string description)
    {
        _process = process;
        Description = description;
    }

    public string Description { get; }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public static LabProcess Start(string ns, string program, IEnumerable<string> arguments, int? cpu = null, int nice = 0)
    {
        var start = new ProcessStartInfo("ip")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("netns");
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(ns);
        if (nice != 0)
        {
            start.ArgumentList.Add("nice");
            start.ArgumentList.Add("-n");
            start.ArgumentList.Add(nice.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        if (cpu is { } core)
        {
            // Same placement as shared/perf: the forwarder on a core of its own, sender and receiver on the other.
            start.ArgumentList.Add("taskset");
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add(core.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        start.ArgumentList.Add(program);
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var lab = new LabProcess(process, $"{Path.GetFileName(program)} {string.Join(' ', arguments)} (netns {ns})");
        process.OutputDataReceived += (_, e) => lab.Add(lab._output, e.Data);
        process.ErrorDataReceived += (_, e) => lab.Add(lab._errors, e.Data);
        process.Exited += (_, _) => lab._exited.TrySetResult();
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return lab;
    }

    public string[] Output
    {
        get
        {
            lock (_output)
            {
                return [.. _output];
            }
        }
    }

    public string Errors
    {
        get
        {
            lock (_output)
            {
                return string.Join('\n', _errors);
            }
        }
    }

    /// <summary>Waits for a line of standard output that starts with <paramref name="prefix"/>.</summary>
    public async Task<string> WaitForLineAsync(string prefix, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            string? line = Output.FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal));
            if (line is not null)
            {
                return line;
            }

            if (_process.HasExited)
            {
                await _exited.Task;
                throw new InvalidOperationException($"{Description} exited with {_process.ExitCode} before '{prefix}': {Errors}");
            }

            await Task.Delay(20);
        }

        throw new TimeoutException($"{Description} did not print '{prefix}' within {timeout.TotalSeconds} s: {Errors}");
    }

    /// <summary>Sends SIGTERM (then SIGKILL after <paramref name="grace"/>) and waits for the exit.</summary>
    public async Task<int> StopAsync(TimeSpan grace)
    {
        if (!_process.HasExited)
        {
            _ = Tmds.Linux.LibC.kill(_process.Id, Tmds.Linux.LibC.SIGTERM);
            if (await Task.WhenAny(_exited.Task, Task.Delay(grace)) != _exited.Task)
            {
                _process.Kill(entireProcessTree: true);
            }
        }

        await _exited.Task;
        _process.WaitForExit();
        return _process.ExitCode;
    }

    public async Task<int> WaitAsync(TimeSpan timeout)
    {
        if (await Task.WhenAny(_exited.Task, Task.Delay(timeout)) != _exited.Task)
        {
            throw new TimeoutException($"{Description} still running after {timeout.TotalSeconds} s");
        }

        _process.WaitForExit();
        return _process.ExitCode;
    }

    /// <summary>CPU time (user + system) the process has used so far, from /proc.</summary>
    public TimeSpan CpuTime()
    {
        try
        {
            return ProcStat.ProcessCpu(_process.Id);
        }
        catch (IOException)
        {
            return TimeSpan.Zero;
        }
    }

    private void Add(List<string> lines, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            lines.Add(line);
        }
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                // SIGTERM first: a vs run removes what it set up (rules, its socket) on the way out.
                _ = Tmds.Linux.LibC.kill(_process.Id, Tmds.Linux.LibC.SIGTERM);
                if (!_process.WaitForExit(3000))
                {
                    _process.Kill(entireProcessTree: true);
                    _process.WaitForExit(5000);
                }
            }
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
    }
}
