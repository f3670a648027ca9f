using System.Diagnostics;
using System.Text;

namespace VirtualStack.Integration.Tests.Infrastructure;

/// <summary>
/// A long-running program started inside a network namespace (<c>ip netns exec NS program args</c>). Its stdout
/// and stderr lines are captured as they arrive; tests wait for a line matching a predicate. <c>ip netns exec</c>
/// execs the program after joining the namespace, so the pid we hold is the program's own: dispose kills exactly
/// that process (and the children it forked, e.g. socat's per-peer children), never anything else.
/// </summary>
internal sealed class NsProcess : IAsyncDisposable
{
    private const int MaxLinesInMessage = 40;

    private readonly Process _process;
    private readonly List<(string Stream, string Line)> _lines = [];
    private readonly List<Waiter> _waiters = [];
    private readonly Action<string>? _log;
    private readonly Task _exited;
    private int? _exitCode;

    private NsProcess(Process process, string name, Action<string>? log)
    {
        _process = process;
        Name = name;
        _log = log;
        process.OutputDataReceived += (_, e) => OnLine("out", e.Data);
        process.ErrorDataReceived += (_, e) => OnLine("err", e.Data);
        if (!process.Start())
        {
            throw new InvalidOperationException($"could not start {name}");
        }

        Pid = process.Id;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _exited = WatchExitAsync();
    }

    /// <summary>What was started, for messages: the command line.</summary>
    public string Name { get; }

    public int Pid { get; }

    public bool HasExited => _exitCode.HasValue;

    public int? ExitCode => _exitCode;

    /// <summary>
    /// Starts <paramref name="file"/> inside namespace <paramref name="ns"/> (or in the test's own namespace when
    /// null). Environment entries with a null value are removed from the child's environment.
    /// </summary>
    public static NsProcess Start(
        string? ns, string file, IEnumerable<string> args, Action<string>? log = null,
        IReadOnlyDictionary<string, string?>? environment = null, bool stdin = false)
    {
        var argList = args.ToList();
        var (exe, fullArgs) = ns is null ? (file, argList) : ("ip", ["netns", "exec", ns, file, .. argList]);
        var info = Cmd.StartInfo(exe, fullArgs, stdin, environment);
        var name = (ns is null ? "" : $"[{ns}] ") + Cmd.Describe(file, argList);
        return new NsProcess(new Process { StartInfo = info }, name, log);
    }

    /// <summary>All captured lines of one stream ("out" or "err") so far.</summary>
    public IReadOnlyList<string> Lines(string stream)
    {
        lock (_lines)
        {
            return _lines.Where(l => l.Stream == stream).Select(l => l.Line).ToList();
        }
    }

    public IReadOnlyList<string> StdOut => Lines("out");

    public IReadOnlyList<string> StdErr => Lines("err");

    /// <summary>
    /// Waits for a line (on stdout or stderr, already printed or still to come) that matches. Fails at once, with
    /// the exit code and the program's output, when the program exits first; fails after the timeout otherwise.
    /// </summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> match, TimeSpan timeout, string what, string? stream = null)
    {
        var waiter = new Waiter(match, stream);
        lock (_lines)
        {
            foreach (var (s, line) in _lines)
            {
                if ((stream is null || s == stream) && match(line))
                {
                    return line;
                }
            }

            if (_exitCode.HasValue)
            {
                throw ExitedBefore(what);
            }

            _waiters.Add(waiter);
        }

        var done = await Task.WhenAny(waiter.Found.Task, _exited, Task.Delay(timeout));
        lock (_lines)
        {
            _waiters.Remove(waiter);
        }

        if (waiter.Found.Task.IsCompleted)
        {
            return await waiter.Found.Task;
        }

        if (done == _exited)
        {
            // The exit and the last lines race: a line printed just before exit still counts.
            await Task.Delay(50);
            return waiter.Found.Task.IsCompleted ? await waiter.Found.Task : throw ExitedBefore(what);
        }

        throw new TimeoutException($"{Name} (pid {Pid}) printed no {what} within {timeout.TotalSeconds:0.#} s.\n{Output()}");
    }

    public async Task WriteStdinAsync(string text)
    {
        await _process.StandardInput.WriteAsync(text);
        await _process.StandardInput.FlushAsync();
    }

    public void CloseStdin() => _process.StandardInput.Close();

    /// <summary>Sends a signal to our own child by its pid, only while it has not been reaped.</summary>
    public void Signal(int signal)
    {
        if (!_process.HasExited && LibC.kill(Pid, signal) != 0)
        {
            throw new InvalidOperationException($"kill({Pid}, {signal}) failed: {LibC.LastError()}");
        }
    }

    /// <summary>Waits for the program to exit and returns its exit code (128+N when killed by signal N).</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        if (await Task.WhenAny(_exited, Task.Delay(timeout)) != _exited)
        {
            throw new TimeoutException($"{Name} (pid {Pid}) did not exit within {timeout.TotalSeconds:0.#} s.\n{Output()}");
        }

        return _exitCode!.Value;
    }

    /// <summary>Its captured output, last lines of each stream, for failure messages.</summary>
    public string Output()
    {
        var sb = new StringBuilder();
        lock (_lines)
        {
            sb.Append("--- output of ").Append(Name).Append(" (pid ").Append(Pid).Append(')');
            sb.Append(_exitCode is { } code ? $", exit code {code}" : ", still running").AppendLine(" ---");
            foreach (var (stream, line) in _lines.Skip(Math.Max(0, _lines.Count - MaxLinesInMessage)))
            {
                sb.Append(stream).Append("| ").AppendLine(line);
            }
        }

        return sb.ToString();
    }

    /// <summary>
    /// Kills the program and what it forked (e.g. socat's per-peer children) with SIGKILL if it still runs.
    /// Process.Kill knows whether the child was already reaped, so a recycled pid is never hit.
    /// </summary>
    public void KillNow()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception or NotSupportedException)
        {
            // Already exited between the check and the kill, or already disposed.
        }
    }

    /// <summary>Kills the program (and what it forked) by pid if it still runs, and waits for it.</summary>
    public async ValueTask DisposeAsync()
    {
        KillNow();
        await Task.WhenAny(_exited, Task.Delay(TimeSpan.FromSeconds(10)));
        _process.Dispose();
    }

    private Exception ExitedBefore(string what) =>
        new InvalidOperationException($"{Name} exited with {_exitCode} before printing {what}.\n{Output()}");

    private async Task WatchExitAsync()
    {
        // Process.WaitForExitAsync also waits for both redirected streams to reach end of file, so every line is
        // captured before the exit is reported.
        await _process.WaitForExitAsync();
        lock (_lines)
        {
            _exitCode = _process.ExitCode;
        }
    }

    private void OnLine(string stream, string? line)
    {
        if (line is null)
        {
            return;
        }

        try
        {
            _log?.Invoke($"{Name}: {stream}| {line}");
        }
        catch (InvalidOperationException)
        {
            // xunit's output helper refuses writes after the test has finished; the line is still captured.
        }

        lock (_lines)
        {
            _lines.Add((stream, line));
            foreach (var waiter in _waiters)
            {
                if ((waiter.Stream is null || waiter.Stream == stream) && waiter.Match(line))
                {
                    waiter.Found.TrySetResult(line);
                }
            }
        }
    }

    private sealed class Waiter(Func<string, bool> match, string? stream)
    {
        public Func<string, bool> Match { get; } = match;

        public string? Stream { get; } = stream;

        public TaskCompletionSource<string> Found { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
