#Requires -Version 5.1
# Reports the Authenticode signature of the agent MSI; the role refuses to install unless the
# status is Valid (chain trusted by this host) and the signer is the expected publisher.
# Read-only.
[CmdletBinding()]
param (
    [Parameter(Mandatory = $true)]
    [string]$Path
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 2.0

if (-not (Test-Path -LiteralPath $Path -PathType Leaf)) {
    throw "The agent MSI '$Path' does not exist on this host."
}
$signature = Get-AuthenticodeSignature -LiteralPath $Path
$subject = ''
$thumbprint = ''
if ($null -ne $signature.SignerCertificate) {
    $subject = $signature.SignerCertificate.Subject
    $thumbprint = $signature.SignerCertificate.Thumbprint
}
[ordered]@{
    path           = $Path
    status         = [string]$signature.Status
    status_message = [string]$signature.StatusMessage
    subject        = $subject
    thumbprint     = $thumbprint
}
