// A Bouncy Castle peer for esign's envelope interop tests, compiled by the tests with javac.
//   decrypt-password IN PASSWORD OUT   open a password record (EnvelopedData or AuthEnvelopedData)
//   encrypt-password IN PASSWORD OUT   EnvelopedData, AES-256-CBC, one password record (PBKDF2-SHA256)
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.Security;
import org.bouncycastle.asn1.ASN1Primitive;
import org.bouncycastle.asn1.cms.CMSObjectIdentifiers;
import org.bouncycastle.asn1.cms.ContentInfo;
import org.bouncycastle.cms.CMSAlgorithm;
import org.bouncycastle.cms.CMSAuthEnvelopedData;
import org.bouncycastle.cms.CMSEnvelopedData;
import org.bouncycastle.cms.CMSEnvelopedDataGenerator;
import org.bouncycastle.cms.CMSProcessableByteArray;
import org.bouncycastle.cms.PasswordRecipient;
import org.bouncycastle.cms.PasswordRecipientInformation;
import org.bouncycastle.cms.RecipientInformation;
import org.bouncycastle.cms.RecipientInformationStore;
import org.bouncycastle.cms.jcajce.JceCMSContentEncryptorBuilder;
import org.bouncycastle.cms.jcajce.JcePasswordEnvelopedRecipient;
import org.bouncycastle.cms.jcajce.JcePasswordRecipientInfoGenerator;
import org.bouncycastle.jce.provider.BouncyCastleProvider;

public final class CmsPeer {
    public static void main(String[] args) throws Exception {
        Security.addProvider(new BouncyCastleProvider());
        byte[] input = Files.readAllBytes(Paths.get(args[1]));
        char[] password = args[2].toCharArray();
        byte[] output;
        if (args[0].equals("decrypt-password")) {
            output = decrypt(input, password);
        } else if (args[0].equals("encrypt-password")) {
            output = encrypt(input, password);
        } else {
            throw new IllegalArgumentException("unknown mode " + args[0]);
        }
        Files.write(Paths.get(args[3]), output);
    }

    private static byte[] decrypt(byte[] input, char[] password) throws Exception {
        ContentInfo info = ContentInfo.getInstance(ASN1Primitive.fromByteArray(input));
        RecipientInformationStore recipients;
        if (info.getContentType().equals(CMSObjectIdentifiers.authEnvelopedData)) {
            recipients = new CMSAuthEnvelopedData(input).getRecipientInfos();
        } else {
            recipients = new CMSEnvelopedData(input).getRecipientInfos();
        }
        for (RecipientInformation recipient : recipients.getRecipients()) {
            if (recipient instanceof PasswordRecipientInformation) {
                return recipient.getContent(
                        new JcePasswordEnvelopedRecipient(password).setProvider("BC"));
            }
        }
        throw new IllegalStateException("no password recipient");
    }

    private static byte[] encrypt(byte[] input, char[] password) throws Exception {
        CMSEnvelopedDataGenerator generator = new CMSEnvelopedDataGenerator();
        generator.addRecipientInfoGenerator(
                new JcePasswordRecipientInfoGenerator(CMSAlgorithm.AES256_CBC, password)
                        .setProvider("BC")
                        .setPRF(PasswordRecipient.PRF.HMacSHA256)
                        .setSaltAndIterationCount(new byte[] {1, 2, 3, 4, 5, 6, 7, 8}, 2048));
        CMSEnvelopedData enveloped = generator.generate(
                new CMSProcessableByteArray(input),
                new JceCMSContentEncryptorBuilder(CMSAlgorithm.AES256_CBC).setProvider("BC").build());
        return enveloped.getEncoded();
    }
}
