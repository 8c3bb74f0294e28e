#Requires -Version 5.1
# Hands the staged fragment to the agent with append-config (other fragments stay) and restarts it.
# append-config validates all fragments together; when the agent rejects the new one, this script
# puts back the previously stored fragment and translated TOML so the running config stays, and
# reports the agent's own output. Check mode (-WhatIf) only reports the diff.
[CmdletBinding(SupportsShouldProcess)]
param (
    [Parameter(Mandatory = $true)]
    [string]$ControlScript,
    [Parameter(Mandatory = $true)]
    [string]$StagedFragment,
    [Parameter(Mandatory = $true)]
    [string]$StoredFragment,
    [Parameter(Mandatory = $true)]
    [string]$Toml,
    [Parameter(Mandatory = $true)]
    [string]$ValidationLog,
    [Parameter(Mandatory = $true)]
    [string]$Mode,
    [Parameter(Mandatory = $true)]
    [AllowEmptyString()]
    [string]$Content
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 2.0

function Read-Bytes([string]$Path) {
    if (Test-Path -LiteralPath $Path -PathType Leaf) {
        return , [IO.File]::ReadAllBytes($Path)
    }
    return $null
}

function Restore-File([string]$Path, $Bytes) {
    if ($null -ne $Bytes) {
        [IO.File]::WriteAllBytes($Path, $Bytes)
    }
    elseif (Test-Path -LiteralPath $Path) {
        Remove-Item -LiteralPath $Path -Force
    }
}

$before = ''
if (Test-Path -LiteralPath $StoredFragment -PathType Leaf) {
    $before = [IO.File]::ReadAllText($StoredFragment)
}
$Ansible.Diff = @{
    before        = $before
    after         = $Content
    before_header = $StoredFragment
    after_header  = $StoredFragment
}
$Ansible.Result = [ordered]@{
    applied        = $false
    rejected       = $false
    agent_output   = ''
    validation_log = ''
    failure        = ''
}

if (-not $PSCmdlet.ShouldProcess($StoredFragment, 'amazon-cloudwatch-agent-ctl.ps1 -a append-config')) {
    return
}

$savedFragment = Read-Bytes $StoredFragment
$savedToml = Read-Bytes $Toml
$global:LASTEXITCODE = 0
$failure = $null
try {
    $output = & $ControlScript -a append-config -m $Mode -c "file:$StagedFragment" -s 2>&1 | Out-String
    if ($LASTEXITCODE -ne 0) {
        $failure = "exit code $LASTEXITCODE"
    }
}
catch {
    $output = "$($_ | Out-String)"
    $failure = $_.Exception.Message
}
$Ansible.Result.agent_output = $output

if ($null -eq $failure) {
    $Ansible.Result.applied = $true
    return
}

# The agent leaves its rejected copy as <stored>.tmp and may already have written a new TOML.
Remove-Item -LiteralPath "$StoredFragment.tmp" -Force -ErrorAction SilentlyContinue
Restore-File -Path $StoredFragment -Bytes $savedFragment
Restore-File -Path $Toml -Bytes $savedToml
if (Test-Path -LiteralPath $ValidationLog -PathType Leaf) {
    $Ansible.Result.validation_log = [IO.File]::ReadAllText($ValidationLog)
}
$Ansible.Result.rejected = $true
$Ansible.Result.failure = $failure
