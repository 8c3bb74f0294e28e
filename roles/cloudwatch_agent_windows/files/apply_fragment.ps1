#Requires -Version 5.1
# Hands the staged fragment to the agent with append-config (other fragments stay), then restarts
# the agent. Reports, for the controller to judge (gdpr.aws_monitoring.cwagent_windows_apply_report):
#   failure = ''          applied, agent restarted with the new config
#             'download'   config-downloader failed (e.g. no instance metadata in ec2 mode)
#             'validation' the translator (phase 1) or the agent's schema test (phase 2) rejected it
#             'start'      the config was valid but the agent did not start with it
# In every failure case every file the control script and its translator rewrote is put back and
# the agent is left running with its previous config (started again after a failed start).
# Check mode (-WhatIf) only reports the diff.
#
# Paths may contain %VARIABLES% (the role passes %ProgramData%/%ProgramFiles% paths, the same
# locations amazon-cloudwatch-agent-ctl.ps1 hard-codes).
[CmdletBinding(SupportsShouldProcess)]
param (
    [Parameter(Mandatory = $true)]
    [string]$ControlScript,
    [Parameter(Mandatory = $true)]
    [string]$DataDir,
    [Parameter(Mandatory = $true)]
    [string]$StagedFragment,
    [Parameter(Mandatory = $true)]
    [string]$StoredFragment,
    [Parameter(Mandatory = $true)]
    [string]$Mode,
    [Parameter(Mandatory = $true)]
    [AllowEmptyString()]
    [string]$Content,
    [string]$ServiceName = 'AmazonCloudWatchAgent'
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 2.0

$ControlScript = [Environment]::ExpandEnvironmentVariables($ControlScript)
$DataDir = [Environment]::ExpandEnvironmentVariables($DataDir)
$StagedFragment = [Environment]::ExpandEnvironmentVariables($StagedFragment)
$StoredFragment = [Environment]::ExpandEnvironmentVariables($StoredFragment)

# What append-config rewrites: the downloader writes Configs\<name>.tmp and, once both validation
# phases passed, renames it over the stored fragment; the translator (tool/translator/translator.go)
# writes the TOML, the OpenTelemetry YAML (or deletes it) and env-config.json beside it.
$rewritten = @(
    $StoredFragment,
    (Join-Path -Path $DataDir -ChildPath 'amazon-cloudwatch-agent.toml'),
    (Join-Path -Path $DataDir -ChildPath 'amazon-cloudwatch-agent.yaml'),
    (Join-Path -Path $DataDir -ChildPath 'env-config.json')
)
$validationLog = Join-Path -Path $DataDir -ChildPath 'Logs\configuration-validation.log'
$agentLog = Join-Path -Path $DataDir -ChildPath 'Logs\amazon-cloudwatch-agent.log'

function Read-Bytes([string]$Path) {
    if (Test-Path -LiteralPath $Path -PathType Leaf) {
        return , [IO.File]::ReadAllBytes($Path)
    }
    return $null
}

function Test-SameBytes($Left, $Right) {
    if ($null -eq $Left -or $null -eq $Right) {
        return ($null -eq $Left) -and ($null -eq $Right)
    }
    return [Convert]::ToBase64String($Left) -ceq [Convert]::ToBase64String($Right)
}

function Restore-Files([hashtable]$Saved) {
    # Returns the paths that had to be put back.
    $restored = New-Object -TypeName System.Collections.Generic.List[string]
    $tmp = "$StoredFragment.tmp"
    if (Test-Path -LiteralPath $tmp) {
        Remove-Item -LiteralPath $tmp -Force
        $restored.Add($tmp)
    }
    foreach ($path in $Saved.Keys) {
        $before = $Saved[$path]
        if (Test-SameBytes $before (Read-Bytes $path)) {
            continue
        }
        if ($null -ne $before) {
            [IO.File]::WriteAllBytes($path, $before)
        }
        else {
            Remove-Item -LiteralPath $path -Force
        }
        $restored.Add($path)
    }
    return , $restored.ToArray()
}

function Invoke-ControlScript([string[]]$Arguments) {
    # A child powershell.exe with both streams read as text. Invoked in this session with 2>&1,
    # Windows PowerShell 5.1 wraps every line a native program (config-downloader.exe, ...) writes
    # to stderr in an ErrorRecord, and the control script's own $ErrorActionPreference = 'Stop'
    # turns the first one into a terminating error: the rest of its output would be lost.
    $powershell = Join-Path -Path $env:SystemRoot -ChildPath 'System32\WindowsPowerShell\v1.0\powershell.exe'
    $all = @('-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-File', $ControlScript) + $Arguments
    $quoted = foreach ($argument in $all) {
        if ($argument -match '[\s"]') { '"' + ($argument -replace '"', '\"') + '"' } else { $argument }
    }
    $startInfo = New-Object -TypeName System.Diagnostics.ProcessStartInfo
    $startInfo.FileName = $powershell
    $startInfo.Arguments = $quoted -join ' '
    $startInfo.UseShellExecute = $false
    $startInfo.CreateNoWindow = $true
    $startInfo.RedirectStandardOutput = $true
    $startInfo.RedirectStandardError = $true
    $process = [System.Diagnostics.Process]::Start($startInfo)
    # stderr is read asynchronously: a full pipe on either stream would otherwise deadlock.
    $stderr = $process.StandardError.ReadToEndAsync()
    $stdout = $process.StandardOutput.ReadToEnd()
    $process.WaitForExit()
    $text = $stdout
    if ($stderr.Result) {
        $text += "`n[stderr]`n" + $stderr.Result
    }
    [pscustomobject]@{ ExitCode = $process.ExitCode; Output = $text }
}

function Test-AgentRunning {
    $service = Get-Service -Name $ServiceName -ErrorAction SilentlyContinue
    return ($null -ne $service) -and ($service.Status -eq 'Running')
}

function Get-Tail([string]$Path, [int]$Lines = 40) {
    if (Test-Path -LiteralPath $Path -PathType Leaf) {
        return (Get-Content -LiteralPath $Path -Tail $Lines) -join "`n"
    }
    return ''
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
    completed        = $false
    applied          = $false
    failure          = ''
    validation_phase = 0
    agent_output     = ''
    validation_log   = ''
    agent_log        = ''
    restored         = @()
    running_after    = $null
}

if (-not $PSCmdlet.ShouldProcess($StoredFragment, 'amazon-cloudwatch-agent-ctl.ps1 -a append-config, restart')) {
    $Ansible.Result.completed = $true
    return
}

$wasRunning = Test-AgentRunning
$saved = @{}
foreach ($path in $rewritten) {
    $saved[$path] = Read-Bytes $path
}

# Without -s: validation only, the running agent is not touched yet.
$append = Invoke-ControlScript @('-a', 'append-config', '-m', $Mode, '-c', "file:$StagedFragment")
$output = $append.Output
if ($append.ExitCode -ne 0) {
    if ($output -notmatch 'Start configuration validation') {
        $Ansible.Result.failure = 'download'
    }
    else {
        $Ansible.Result.failure = 'validation'
        $Ansible.Result.validation_phase = 1
        if ($output -match 'validation second phase failed') {
            $Ansible.Result.validation_phase = 2
            $Ansible.Result.validation_log = Get-Tail -Path $validationLog -Lines 200
        }
    }
}
else {
    # The new config is in place: restart the agent on it, as -s would (stop, then start).
    $stop = Invoke-ControlScript @('-a', 'stop', '-m', $Mode)
    $start = Invoke-ControlScript @('-a', 'start', '-m', $Mode)
    $output += "`n" + $stop.Output + "`n" + $start.Output
    if ($start.ExitCode -eq 0 -and (Test-AgentRunning)) {
        $Ansible.Result.applied = $true
    }
    else {
        $Ansible.Result.failure = 'start'
        $Ansible.Result.agent_log = Get-Tail -Path $agentLog
    }
}

if ($Ansible.Result.failure) {
    $Ansible.Result.restored = Restore-Files -Saved $saved
    # Back on the previous config. Without a previous TOML the control script's start would apply
    # its own default config instead, so an agent that never had one stays stopped.
    $hadConfig = $null -ne $saved[$rewritten[1]]
    if ($hadConfig -and ($Ansible.Result.failure -eq 'start' -or ($wasRunning -and -not (Test-AgentRunning)))) {
        $again = Invoke-ControlScript @('-a', 'start', '-m', $Mode)
        $output += "`n" + $again.Output
    }
    $Ansible.Result.running_after = Test-AgentRunning
    if (-not $Ansible.Result.running_after -and -not $Ansible.Result.agent_log) {
        $Ansible.Result.agent_log = Get-Tail -Path $agentLog
    }
}
else {
    $Ansible.Result.running_after = $true
}
$Ansible.Result.agent_output = $output
$Ansible.Result.completed = $true
