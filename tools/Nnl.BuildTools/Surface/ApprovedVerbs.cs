namespace Nnl.BuildTools.Surface;

/// <summary>
/// PowerShell's approved verbs: what Get-Verb lists in PowerShell 7.4 (the System.Management.Automation
/// Verbs* classes). Import-Module warns about any other verb, so the surface check rejects them.
/// </summary>
public static class ApprovedVerbs
{
    public static readonly IReadOnlyDictionary<string, string> Groups = Build(
        ("Common", ["Add", "Clear", "Close", "Copy", "Enter", "Exit", "Find", "Format", "Get", "Hide", "Join", "Lock",
            "Move", "New", "Open", "Optimize", "Pop", "Push", "Redo", "Remove", "Rename", "Reset", "Resize", "Search",
            "Select", "Set", "Show", "Skip", "Split", "Step", "Switch", "Undo", "Unlock", "Watch"]),
        ("Communications", ["Connect", "Disconnect", "Read", "Receive", "Send", "Write"]),
        ("Data", ["Backup", "Checkpoint", "Compare", "Compress", "Convert", "ConvertFrom", "ConvertTo", "Dismount",
            "Edit", "Expand", "Export", "Group", "Import", "Initialize", "Limit", "Merge", "Mount", "Out", "Publish",
            "Restore", "Save", "Sync", "Unpublish", "Update"]),
        ("Diagnostic", ["Debug", "Measure", "Ping", "Repair", "Resolve", "Test", "Trace"]),
        ("Lifecycle", ["Approve", "Assert", "Build", "Complete", "Confirm", "Deny", "Deploy", "Disable", "Enable",
            "Install", "Invoke", "Register", "Request", "Restart", "Resume", "Start", "Stop", "Submit", "Suspend",
            "Uninstall", "Unregister", "Wait"]),
        ("Other", ["Use"]),
        ("Security", ["Block", "Grant", "Protect", "Revoke", "Unblock", "Unprotect"]));

    /// <summary>Exact case, as PowerShell prints them: "get" is not the approved spelling of Get.</summary>
    public static bool IsApproved(string verb) => Groups.ContainsKey(verb);

    private static Dictionary<string, string> Build(params (string Group, string[] Verbs)[] groups)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (group, verbs) in groups)
            foreach (var verb in verbs) map.Add(verb, group);
        return map;
    }
}
