using System.Diagnostics;

namespace VirtualStack.Host.Setup;

/// <summary>Runs a system command (iproute2) and reports its error output when it fails.</summary>
internal static class CommandRunner
{
    public static (int ExitCode, string Output, string Error) Run(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        try
        {
            using Process process = Process.Start(start)!;
            Task<string> output = process.StandardOutput.ReadToEndAsync();
            string error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, output.Result, error.Trim());
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (127, string.Empty, $"cannot run {program}: {e.Message} (install iproute2)");
        }
    }

    /// <summary>Runs and throws <see cref="IOException"/> with the command line and its error when it fails.</summary>
    public static void Check(string program, params string[] arguments)
    {
        (int code, _, string error) = Run(program, arguments);
        if (code != 0)
        {
            throw new IOException($"'{program} {string.Join(' ', arguments)}' failed: {error}");
        }
    }
}
