using System.Globalization;

namespace VirtualStack.Plugins.Policies;

/// <summary>Reads <c>RuleBased</c>'s <c>Uid</c> option: a uid, a range of uids, or a user name of this machine.</summary>
internal static class Users
{
    public static (int Low, int High) ParseUidRange(string key, string text, string passwd = "/etc/passwd")
    {
        int dash = text.IndexOf('-', StringComparison.Ordinal);
        if (dash > 0 &&
            int.TryParse(text.AsSpan(0, dash).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int low) &&
            int.TryParse(text.AsSpan(dash + 1).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int high))
        {
            return low <= high ? (low, high) : throw new FormatException($"{key}: '{text}': the range is empty");
        }

        if (int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int uid))
        {
            return (uid, uid);
        }

        // A name is resolved once, here: the flow's uid is compared as a number per packet.
        if (File.Exists(passwd))
        {
            foreach (string line in File.ReadLines(passwd))
            {
                string[] fields = line.Split(':');
                if (fields.Length > 2 && fields[0] == text.Trim() &&
                    int.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out int named))
                {
                    return (named, named);
                }
            }
        }

        throw new FormatException($"{key}: '{text}' is not a uid, a range like 1000-1999, or a user of this machine");
    }
}
