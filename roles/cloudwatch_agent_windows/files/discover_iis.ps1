#Requires -Version 5.1
# Reports the raw IIS logging configuration of this host as one JSON string. Decisions (siteDefaults
# inheritance, %VARIABLE% expansion, which sites write text files, encoding, group and stream names)
# are made by the gdpr.aws_monitoring.cwagent_windows_fragment filter on the controller, where they
# are unit-tested. Read-only: reads applicationHost.config, needs no IIS PowerShell module.
#
# IIS Shared Configuration: when redirection.config enables it, IIS reads applicationHost.config
# from the shared path and the local copy is stale, so the shared one is read. A configuration that
# cannot be read (share unreachable, e.g. the WinRM second hop; malformed XML) does not fail: it is
# reported as config_error, and the role collects the fallback path with a warning.
[CmdletBinding()]
param (
    [string]$ConfigDirectory = (Join-Path -Path $env:windir -ChildPath 'System32\inetsrv\config')
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 2.0

function Get-NodeAttribute {
    param (
        [System.Xml.XmlNode]$Node,
        [string[]]$Name
    )
    $attributes = [ordered]@{}
    if ($null -ne $Node) {
        foreach ($attributeName in $Name) {
            $attribute = $Node.Attributes.GetNamedItem($attributeName)
            if ($null -ne $attribute) {
                $attributes[$attributeName] = $attribute.Value
            }
        }
    }
    $attributes
}

$logFileAttributes = @('directory', 'logFormat', 'enabled', 'logTargetW3C')
$localConfig = Join-Path -Path $ConfigDirectory -ChildPath 'applicationHost.config'
$report = [ordered]@{
    iis_installed  = $false
    config_path    = $localConfig
    shared_config  = $false
    config_error   = ''
    log_in_utf8    = ''
    ansi_code_page = ''
    site_defaults  = [ordered]@{}
    central_log    = [ordered]@{}
    sites          = @()
    environment    = [ordered]@{}
}

function Read-Xml([string]$Path) {
    $document = New-Object -TypeName System.Xml.XmlDocument
    $document.Load($Path)
    return , $document
}

function Read-IisConfiguration([string]$Path) {
    $xml = Read-Xml $Path
    $root = '/configuration/system.applicationHost'
    $report.site_defaults = Get-NodeAttribute -Node $xml.SelectSingleNode("$root/sites/siteDefaults/logFile") -Name $logFileAttributes
    $central = Get-NodeAttribute -Node $xml.SelectSingleNode("$root/log/centralW3CLogFile") -Name @('directory', 'enabled')
    $log = Get-NodeAttribute -Node $xml.SelectSingleNode("$root/log") -Name @('centralLogFileMode', 'logInUTF8')
    if ($log.Contains('centralLogFileMode')) {
        $central['mode'] = $log['centralLogFileMode']
    }
    # Server-wide: with logInUTF8="false" every site writes its logs in the system ANSI code page.
    if ($log.Contains('logInUTF8')) {
        $report.log_in_utf8 = $log['logInUTF8']
    }
    $report.central_log = $central

    $sites = New-Object -TypeName System.Collections.Generic.List[object]
    foreach ($site in $xml.SelectNodes("$root/sites/site")) {
        $protocols = @(
            foreach ($binding in $site.SelectNodes('bindings/binding')) { $binding.GetAttribute('protocol') }
        )
        $sites.Add([ordered]@{
                id        = $site.GetAttribute('id')
                name      = $site.GetAttribute('name')
                # a plain string: Windows PowerShell's ConvertTo-Json may wrap arrays as {value, Count}
                protocols = ($protocols -join ',')
                log_file  = Get-NodeAttribute -Node $site.SelectSingleNode('logFile') -Name $logFileAttributes
            })
    }
    $report.sites = $sites.ToArray()
}

if (Test-Path -LiteralPath $localConfig -PathType Leaf) {
    $report.iis_installed = $true
    try {
        $configPath = $localConfig
        $redirection = Join-Path -Path $ConfigDirectory -ChildPath 'redirection.config'
        if (Test-Path -LiteralPath $redirection -PathType Leaf) {
            $node = (Read-Xml $redirection).SelectSingleNode('/configuration/configurationRedirection')
            if ($null -ne $node -and $node.GetAttribute('enabled') -eq 'true' -and $node.GetAttribute('path')) {
                $report.shared_config = $true
                $configPath = Join-Path -Path ([Environment]::ExpandEnvironmentVariables($node.GetAttribute('path'))) -ChildPath 'applicationHost.config'
            }
        }
        $report.config_path = $configPath
        Read-IisConfiguration -Path $configPath
    }
    catch {
        $report.config_error = "$($report.config_path): $($_.Exception.Message)"
        $report.site_defaults = [ordered]@{}
        $report.central_log = [ordered]@{}
        $report.sites = @()
    }
    # The ANSI code page IIS uses when logInUTF8 is false (the system locale's).
    $nls = Get-ItemProperty -LiteralPath 'HKLM:\SYSTEM\CurrentControlSet\Control\Nls\CodePage' -Name ACP -ErrorAction SilentlyContinue
    if ($null -ne $nls) {
        $report.ansi_code_page = [string]$nls.ACP
    }
}

# Values of the %VARIABLE%s the directories use, as IIS (a system service) would expand them.
# %SystemDrive% is always reported: it is in the IIS default directory, which the file omits, and
# in the fallback path used without IIS.
$directories = @('%SystemDrive%', $report.site_defaults['directory'], $report.central_log['directory'])
$directories += foreach ($entry in $report.sites) { $entry.log_file['directory'] }
foreach ($match in [regex]::Matches(($directories -join ';'), '%([^%]+)%')) {
    $variable = $match.Groups[1].Value
    $value = [Environment]::GetEnvironmentVariable($variable, 'Machine')
    if ($null -eq $value) {
        $value = [Environment]::GetEnvironmentVariable($variable)
    }
    if ($null -ne $value) {
        $report.environment[$variable] = $value
    }
}

# A JSON string rather than objects: win_powershell would flatten nesting deeper than its depth.
$report | ConvertTo-Json -Depth 8 -Compress
