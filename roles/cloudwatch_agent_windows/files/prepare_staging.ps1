#Requires -Version 5.1
# Creates the staging directory for the MSI and the fragment with an ACL of its own: owner
# Administrators, full control for Administrators and SYSTEM only, nothing inherited. Under
# C:\ProgramData the inherited ACL lets BUILTIN\Users create files and folders, so a non-admin
# could otherwise plant an MSI or a fragment between download and use.
# A directory found with any other ACL (created by someone else, or by an older version of this
# role) is emptied: nothing in it can be trusted. Check mode (-WhatIf) only reports.
[CmdletBinding(SupportsShouldProcess)]
param (
    [Parameter(Mandatory = $true)]
    [string]$Path
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 2.0

$Path = [Environment]::ExpandEnvironmentVariables($Path)
# O:BA owner Administrators; D:PAI protected DACL (no inheritance from C:\ProgramData);
# (A;OICI;FA;;;SY) and (A;OICI;FA;;;BA): full control, inherited by files and subfolders.
$sddl = 'O:BAD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)'
$sections = [System.Security.AccessControl.AccessControlSections]'Owner, Access'
$wanted = New-Object -TypeName System.Security.AccessControl.DirectorySecurity
$wanted.SetSecurityDescriptorSddlForm($sddl, $sections)
$wantedText = $wanted.GetSecurityDescriptorSddlForm($sections)

$Ansible.Changed = $false
$Ansible.Result = [ordered]@{ path = $Path; created = $false; acl_fixed = $false; emptied = @() }

$exists = Test-Path -LiteralPath $Path -PathType Container
if ($exists) {
    $current = (Get-Acl -LiteralPath $Path).GetSecurityDescriptorSddlForm($sections)
    if ($current -eq $wantedText) {
        return
    }
}
$Ansible.Changed = $true
if (-not $PSCmdlet.ShouldProcess($Path, 'restrict to Administrators and SYSTEM')) {
    return
}
if (-not $exists) {
    # Created with its ACL in one call: no moment with the inherited, user-writable ACL.
    [void][System.IO.Directory]::CreateDirectory($Path, $wanted)
    $Ansible.Result.created = $true
}
else {
    $Ansible.Result.emptied = @(Get-ChildItem -LiteralPath $Path -Force | ForEach-Object { $_.FullName })
    Get-ChildItem -LiteralPath $Path -Force | Remove-Item -Recurse -Force
}
$acl = Get-Acl -LiteralPath $Path
$acl.SetSecurityDescriptorSddlForm($sddl, $sections)
Set-Acl -LiteralPath $Path -AclObject $acl
$Ansible.Result.acl_fixed = $true
