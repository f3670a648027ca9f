using VirtualStack.Contracts.Stacks;

namespace VirtualStack.Plugins.Dccp.Stack;

/// <summary>Makes Dccp stacks: each application UDP flow carried as one DCCP connection (RFC 4340, CCID 2).</summary>
internal sealed class DccpStackFactory : IStackFactory
{
    public string Name => "Dccp";

    public string Description => "each UDP flow as one DCCP connection (RFC 4340, CCID 2) over raw IP protocol 33 or DCCP-UDP (RFC 6773); SO_MARK";

    public string? Validate(StackOptions options)
    {
        DccpStackSettings.TryParse(options, out string? problem);
        return problem;
    }

    public ITransportStack Create(StackOptions options, IStackHost host)
    {
        ArgumentNullException.ThrowIfNull(host);
        DccpStackSettings settings = DccpStackSettings.TryParse(options, out string? problem)
            ?? throw new ArgumentException($"Stacks:{options.Name}: {problem}", nameof(options));
        return new DccpStack(options.Name, settings, host);
    }
}
