using VirtualStack.Contracts.Measurements;
using VirtualStack.Contracts.Packets;
using VirtualStack.Contracts.Policies;

namespace VirtualStack.Plugins.Policies;

/// <summary><c>Static</c>: every packet on one stack, the rule's first unless <c>Stack</c> names another.</summary>
internal sealed class StaticPolicyFactory : IPolicyFactory
{
    public string Name => "Static";

    public string Description => "one stack for every flow: the rule's first, or PolicyOptions.Stack";

    public string? Validate(PolicyOptions options) => Options.Check(options, "Stack", o => o.GetStack("Stack", 0));

    public IDecisionPolicy Create(PolicyOptions options, IPolicyHost host) =>
        new StaticPolicy(options.GetStack("Stack", 0), options.Stacks);
}

internal sealed class StaticPolicy(int stack, IReadOnlyList<string> stacks) : IDecisionPolicy
{
    public string? Status => $"on {stacks[stack]}";

    public int Choose(in PacketInfo packet, in FlowContext flow) => stack;

    public void Observe(in Measurement measurement)
    {
    }
}
