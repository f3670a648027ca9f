using VirtualStack.Contracts.Stacks;

namespace VirtualStack.Host.Daemon;

/// <summary>What the host offers each stack: the socket mark and a log.</summary>
internal sealed class StackHost(int socketMark, string stackName, Action<string> log) : IStackHost
{
    public int SocketMark => socketMark;

    public void Log(StackLogLevel level, string message) =>
        log(level >= StackLogLevel.Warning ? $"{stackName}: {level.ToString().ToLowerInvariant()}: {message}" : $"{stackName}: {message}");
}
