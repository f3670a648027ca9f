using System.Collections.Concurrent;
using VirtualStack.Contracts.Stacks;

namespace VirtualStack.Plugins.Tests.Infrastructure;

/// <summary>The host side a stack sees: a socket mark (0 unless a test needs one) and a log it can inspect.</summary>
internal sealed class TestStackHost(int socketMark = 0) : IStackHost
{
    public int SocketMark => socketMark;

    public ConcurrentQueue<string> Lines { get; } = new();

    public void Log(StackLogLevel level, string message) => Lines.Enqueue($"{level}: {message}");
}
