<powershell>
# First-boot bootstrap (EC2Launch runs it once): WinRM over HTTPS on 5986 with a self-signed
# certificate, NTLM for the local Administrator. Plain HTTP WinRM is not opened.
$ErrorActionPreference = 'Stop'
Enable-PSRemoting -SkipNetworkProfileCheck -Force
$certificate = New-SelfSignedCertificate -DnsName $env:COMPUTERNAME -CertStoreLocation 'Cert:\LocalMachine\My' -NotAfter (Get-Date).AddDays(7)
Get-ChildItem -Path 'WSMan:\localhost\Listener' |
    Where-Object { $_.Keys -contains 'Transport=HTTPS' } |
    Remove-Item -Recurse -Force
New-Item -Path 'WSMan:\localhost\Listener' -Transport HTTPS -Address * -CertificateThumbPrint $certificate.Thumbprint -Force | Out-Null
New-NetFirewallRule -Name 'WinRM-HTTPS-Molecule' -DisplayName 'WinRM HTTPS (Molecule windows_ec2)' -Direction Inbound -Protocol TCP -LocalPort 5986 -Action Allow | Out-Null
Restart-Service -Name WinRM
</powershell>
