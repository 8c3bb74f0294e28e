#Requires -Version 5.1
# Reports what the role needs to decide whether to install the agent MSI: its Authenticode
# signature (status, signer subject, signer EKUs), the signer's certificate chain as this host
# builds it (revocation checked online), the MSI's ProductVersion and the version of the same
# product already installed. The decision is made on the controller
# (gdpr.aws_monitoring.cwagent_windows_msi_problems). Read-only.
[CmdletBinding()]
param (
    [Parameter(Mandatory = $true)]
    [string]$Path
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 2.0

function Get-MsiProperty([string]$MsiPath, [string]$Name) {
    # The Windows Installer COM API reads the MSI's Property table without installing anything.
    $installer = New-Object -ComObject WindowsInstaller.Installer
    $database = $installer.GetType().InvokeMember('OpenDatabase', 'InvokeMethod', $null, $installer, @($MsiPath, 0))
    $query = "SELECT Value FROM Property WHERE Property = '$Name'"
    $view = $database.GetType().InvokeMember('OpenView', 'InvokeMethod', $null, $database, @($query))
    [void]$view.GetType().InvokeMember('Execute', 'InvokeMethod', $null, $view, $null)
    $record = $view.GetType().InvokeMember('Fetch', 'InvokeMethod', $null, $view, $null)
    $value = ''
    if ($null -ne $record) {
        $value = $record.GetType().InvokeMember('StringData', 'GetProperty', $null, $record, 1)
    }
    [void]$view.GetType().InvokeMember('Close', 'InvokeMethod', $null, $view, $null)
    return [string]$value
}

function Get-InstalledVersion([string]$ProductName) {
    $keys = @(
        'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\*',
        'HKLM:\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall\*'
    )
    $entries = Get-ItemProperty -Path $keys -ErrorAction SilentlyContinue |
        Where-Object { $_.PSObject.Properties['DisplayName'] -and $_.DisplayName -eq $ProductName }
    foreach ($entry in $entries) {
        if ($entry.PSObject.Properties['DisplayVersion']) {
            return [string]$entry.DisplayVersion
        }
    }
    return ''
}

if (-not (Test-Path -LiteralPath $Path -PathType Leaf)) {
    throw "The agent MSI '$Path' does not exist on this host."
}
$signature = Get-AuthenticodeSignature -LiteralPath $Path
$report = [ordered]@{
    path              = $Path
    status            = [string]$signature.Status
    status_message    = [string]$signature.StatusMessage
    subject_lines     = @()
    thumbprint        = ''
    signer_eku        = @()
    chain             = @()
    chain_valid       = $false
    chain_status      = ''
    msi_version       = ''
    product_name      = ''
    installed_version = ''
}
$certificate = $signature.SignerCertificate
if ($null -ne $certificate) {
    $flags = [System.Security.Cryptography.X509Certificates.X500DistinguishedNameFlags]'UseNewLines, DoNotUseQuotes'
    $report.subject_lines = @($certificate.SubjectName.Decode($flags) -split "`r?`n" | Where-Object { $_ })
    $report.thumbprint = $certificate.Thumbprint
    $report.signer_eku = @(
        foreach ($extension in $certificate.Extensions) {
            if ($extension -is [System.Security.Cryptography.X509Certificates.X509EnhancedKeyUsageExtension]) {
                foreach ($usage in $extension.EnhancedKeyUsages) { $usage.Value }
            }
        }
    )
    $chain = New-Object -TypeName System.Security.Cryptography.X509Certificates.X509Chain
    $chain.ChainPolicy.RevocationMode = [System.Security.Cryptography.X509Certificates.X509RevocationMode]::Online
    $chain.ChainPolicy.RevocationFlag = [System.Security.Cryptography.X509Certificates.X509RevocationFlag]::EntireChain
    [void]$chain.ChainPolicy.ApplicationPolicy.Add((New-Object -TypeName System.Security.Cryptography.Oid -ArgumentList '1.3.6.1.5.5.7.3.3'))
    $report.chain_valid = $chain.Build($certificate)
    $report.chain_status = (@($chain.ChainStatus | ForEach-Object { "$($_.Status): $($_.StatusInformation.Trim())" }) -join '; ')
    # leaf first, root last
    $report.chain = @(
        foreach ($element in $chain.ChainElements) {
            [ordered]@{ subject = $element.Certificate.Subject; thumbprint = $element.Certificate.Thumbprint }
        }
    )
}
$report.msi_version = Get-MsiProperty -MsiPath $Path -Name 'ProductVersion'
$report.product_name = Get-MsiProperty -MsiPath $Path -Name 'ProductName'
if ($report.product_name) {
    $report.installed_version = Get-InstalledVersion -ProductName $report.product_name
}
# A JSON string rather than objects: win_powershell would flatten nesting deeper than its depth.
$report | ConvertTo-Json -Depth 6 -Compress
