#Requires -Version 5.1
# Reports the raw IIS logging configuration of this host as one JSON string. Decisions (siteDefaults
# inheritance, %VARIABLE% expansion, which sites write text files, group and stream names) are
# made by the gdpr.aws_monitoring.cwagent_windows_fragment filter on the controller, where they are
# unit-tested. Read-only: reads applicationHost.config, needs no IIS PowerShell module.
[CmdletBinding()]
param (
    [string]$ConfigPath = (Join-Path -Path $env:windir -ChildPath 'System32\inetsrv\config\applicationHost.config')
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
$report = [ordered]@{
    iis_installed = $false
    config_path   = $ConfigPath
    site_defaults = [ordered]@{}
    central_log   = [ordered]@{}
    sites         = @()
    environment   = [ordered]@{}
}

if (Test-Path -LiteralPath $ConfigPath -PathType Leaf) {
    $xml = New-Object -TypeName System.Xml.XmlDocument
    $xml.Load($ConfigPath)
    $root = '/configuration/system.applicationHost'
    $report.iis_installed = $true
    $report.site_defaults = Get-NodeAttribute -Node $xml.SelectSingleNode("$root/sites/siteDefaults/logFile") -Name $logFileAttributes
    $central = Get-NodeAttribute -Node $xml.SelectSingleNode("$root/log/centralW3CLogFile") -Name @('directory', 'enabled')
    $mode = Get-NodeAttribute -Node $xml.SelectSingleNode("$root/log") -Name @('centralLogFileMode')
    if ($mode.Contains('centralLogFileMode')) {
        $central['mode'] = $mode['centralLogFileMode']
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

    # Values of the %VARIABLE%s the directories use, as IIS (a system service) would expand them.
    # %SystemDrive% is always reported: it is in the IIS default directory, which the file omits.
    $directories = @('%SystemDrive%', $report.site_defaults['directory'], $central['directory'])
    $directories += foreach ($entry in $sites) { $entry.log_file['directory'] }
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
}

# A JSON string rather than objects: win_powershell would flatten nesting deeper than its depth.
$report | ConvertTo-Json -Depth 8 -Compress
