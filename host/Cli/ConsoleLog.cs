namespace VirtualStack.Host.Cli;

/// <summary>Diagnostics go to standard error, prefixed, so standard output stays clean for tables and JSON.</summary>
internal static class ConsoleLog
{
    private static readonly Lock Gate = new();

    public static void Write(string message)
    {
        lock (Gate)
        {
            Console.Error.WriteLine($"vs: {message}");
        }
    }
}
